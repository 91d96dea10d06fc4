"""The one error type of the package: bad input, told in one line."""


class Refusal(Exception):
    """Bad input: printed as one line `Cannot <action>: <what is wrong>`, exit code 2."""
