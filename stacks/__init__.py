"""Stack configuration (typed) and composition of the components into one program."""
