"""The HTTP API: validates, authorises, writes plain records and enqueues everything else."""
