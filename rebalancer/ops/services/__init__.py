"""Services of the operator's console (everything here writes, and every operator action
is audited): :mod:`.audit`, :mod:`.actions`, :mod:`.intraday`, :mod:`.responses`,
:mod:`.sweeper`."""
