"""SAT's CFDI status service: the client (`client`) and what the import does with its answers (`status`)."""
