"""The Qt-free document model of the app: what the user sees, edits, undoes and saves."""
