GREETING = "hello from a file put on the board"
