"""nbgrader in the single-user image (Zero to JupyterHub): the exchange is a shared volume."""

c = get_config()  # noqa: F821
c.Exchange.root = "/srv/nbgrader/exchange"
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
c.ExchangeFactory.submit = "course.hub.exchange.PrivateSubmit"
