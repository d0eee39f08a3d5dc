"""Standard alarms (RFC 8632, ietf-alarms): the alarm list, the alarm types dmm-nf raises and
the table that raises and clears them from the events of the bus.

| module | job |
|---|---|
| `alarm_list.py` | `AlarmList`: alarms, status changes, operator states, purge, compress, summary |
| `inventory.py` | the alarm types (the alarm inventory) and the resources they are raised on |
| `rules.py` | `RULES`: event kind -> raise / clear; `AlarmRules` applies it to the bus |
"""
from nf.alarms.alarm_list import AlarmKey, AlarmList, Control, PurgeFilter
from nf.alarms.inventory import ALARM_TYPES, AlarmType, inventory
from nf.alarms.rules import RULES, AlarmRules

__all__ = ["ALARM_TYPES", "RULES", "AlarmKey", "AlarmList", "AlarmRules", "AlarmType", "Control", "PurgeFilter",
           "inventory"]
