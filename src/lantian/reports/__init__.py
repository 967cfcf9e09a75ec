"""Reports a bureau files and publishes.

Monthly ULE reports (HTML/PDF), bulletins and Excel ledgers. All times China Standard Time
(中国标准时间) wall-clock.
"""
