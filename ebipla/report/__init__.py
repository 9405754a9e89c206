"""Paper tables and figures, built from run directories and metrics files only."""
