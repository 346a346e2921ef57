"""The web application: app factory, middleware, layout, static assets."""
