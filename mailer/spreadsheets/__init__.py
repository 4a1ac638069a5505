"""Spreadsheets in and out: the bounded reader, the admin's formats, private uploads waiting for
confirmation, and the recipient and suppression-list resources."""
