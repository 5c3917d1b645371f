"""The command line for people: commands, doctor, install, demo, generated docs."""
