"""The dock agent: finds recordings on docked cameras, uploads, confirms, wipes."""
