"""The conversation history: records, the SQLite store and its schema, safe opening, export."""
