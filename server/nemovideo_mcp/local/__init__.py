"""The user's machine: upload rules, URL rules, export placement, the state folder."""
