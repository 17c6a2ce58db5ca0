"""The idnopt command line (click)."""
