"""E-mail channel: SMTP out, IMAP in."""
