"""DICOM networking: receive from scanners, query and retrieve from a PACS, send results back.

DIMSE through pynetdicom (``dimse``), DICOMweb through dicomweb-client (``web``); both are a
``Peer`` (``peers.open_peer``). What arrives is written into a project by ``receive.InstanceStore``,
atomically and one folder per study; ``listener.Listener`` is the storage SCP that feeds it.
"""
