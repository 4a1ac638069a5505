class MailerError(Exception):
    """A refusal staff will read: the message is the Russian text shown to them."""
