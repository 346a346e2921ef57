"""Where a redirect may go: only back into this site."""


def local_target(target: str, fallback: str = "/") -> str:
    """`target` when it is a path on this site, else `fallback`.

    "//host" and "/\\host" both leave the site in browsers, and so can control characters.
    """
    inside = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if inside and target.isprintable() else fallback
