"""Base models: the bundled default, local folders, the Hugging Face cache, Hub downloads
(in a child process, only when asked), and the architecture catalog."""
