"""telnyx."""
