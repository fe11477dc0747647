"""Errors a user can cause and understand. The CLI and the GUI show ``str(err)``, never a traceback."""


class UserError(Exception):
    """Bad input from the user (a path, a project, an argument). The message is one clear sentence."""


class ProjectError(UserError):
    """A project folder that cannot be opened or created."""
