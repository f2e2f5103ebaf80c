"""One ComponentResource per concern. Components know nothing about stack configuration files."""
