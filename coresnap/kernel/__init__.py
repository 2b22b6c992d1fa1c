"""FreeBSD kernel dumps: what savecore(8), textdump(4) and crashinfo(8) leave in /var/crash,
read into the same snapshot format as process crashes.

Layers: :mod:`.model` (plain data) ← :mod:`.savecore` (the crash directory, ``info.N``),
:mod:`.textdump` (``textdump.tar.N``), :mod:`.ddb` (ddb output, the message buffer),
:mod:`.crashinfo` (``core.txt.N``, kgdb's ``bt``) ← :mod:`.reader` (texts → KernelDump) ←
:mod:`.classify`, :mod:`.snapshot` (KernelDump → snapshot) and :mod:`.spool` (a dump into
coresnapd's spool, where the vmcore is kept or purged like any core).
"""
