"""What the kernel side and the cloud process share: the account's constants, the state directory's private
files, whether a pid lives. Imports neither side."""
