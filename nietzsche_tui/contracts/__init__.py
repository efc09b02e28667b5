"""The contracts between the trainer and the app: files, each defined in one module (the
checkpoint, its folder, the training events stream). They import nothing else of ours."""
