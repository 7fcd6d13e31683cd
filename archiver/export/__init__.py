"""Evidence packages and integrity: the hash-chained manifest of finished WARC files
(manifest.py), re-verification of every stored record (verify.py), WACZ export with
CDXJ index, pages and a readable summary (wacz.py, cdxj.py, summary.py), optional
anonymous ECDSA signing (sign.py) and offline checking of a package (verify_wacz.py).
"""
