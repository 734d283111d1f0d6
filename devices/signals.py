"""What the devices app tells the apps above it (which it may not import).

`devices_activated` is sent inside the transaction that activated
permanent devices, by the R1 page (one device) or by the auto-activation
job (a batch): the interim credentials of those clients end with it (A6,
C5), in the same transaction. Receivers must be set-based.
"""

from django.dispatch import Signal

# client_ids: the clients whose permanent device became active; now.
devices_activated = Signal()
