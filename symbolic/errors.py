class ModelError(ValueError):
    """Bad model input; the message is shown to the user as is."""
