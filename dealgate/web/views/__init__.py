"""Pages of the web app, one module per screen; every view checks the user's role and scope."""
