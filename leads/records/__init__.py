"""Documents for enforcement: the 电子数据提取笔录 (extraction record), the 线索交办通知书 (handover
notice) and a lead's WACZ archive.

* :mod:`.pages` -- each page of the leads' findings with its files, hashes, seal and token serial;
* :mod:`.extraction` -- the extraction record as data (:func:`build_extraction_record`);
* :mod:`.handover` -- the handover notice as data (:func:`handover_notice`: leads, receiving unit,
  due date, issuer);
* :mod:`.render` -- DOCX (python-docx) and PDF (Chromium print of the HTML templates);
* :mod:`.archive` -- a lead's pages as a WACZ, and the record files for a lead in one call.
"""

from __future__ import annotations

from leads.records.extraction import ExtractionRecord, build_extraction_record
from leads.records.handover import HandoverNotice, handover_notice
from leads.records.render import (
    RenderError,
    write_notice_docx,
    write_notice_pdf,
    write_record_docx,
    write_record_pdf,
)

__all__ = ["ExtractionRecord", "HandoverNotice", "RenderError", "build_extraction_record", "handover_notice",
           "write_notice_docx", "write_notice_pdf", "write_record_docx", "write_record_pdf"]
