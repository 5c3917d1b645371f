"""Media facts shared by the client's upload checks and the studio: formats, content sniffing, probing."""
