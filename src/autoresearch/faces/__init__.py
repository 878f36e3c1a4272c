"""The faces of the library: the command line, the MCP server and the live views."""
