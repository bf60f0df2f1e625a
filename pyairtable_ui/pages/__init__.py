"""One module per page, each with the state it needs beside it."""
