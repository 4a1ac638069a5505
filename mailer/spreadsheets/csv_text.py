"""The text of a CSV file as Russian Excel saves it: UTF-8 or Windows-1251, any line ends,
decoded as it is read (so a reader that stops early leaves the rest of the file unread)."""

import codecs
import io
from collections.abc import Iterator
from typing import BinaryIO


def utf8_or_cp1251(stream: BinaryIO, *, chunk_bytes: int) -> Iterator[str]:
    """The text of a CSV as UTF-8 (a BOM dropped) or, at the first byte that is not UTF-8,
    as Windows-1251: what Russian Excel writes. The switch is taken only while everything
    read so far was ASCII (the same text in both), so an English header and thousands of
    ASCII rows before the first Cyrillic name are fine; a file mixing both raises."""
    decoder, all_ascii = codecs.getincrementaldecoder("utf-8")(), True
    while chunk := stream.read(chunk_bytes):
        pending = decoder.getstate()[0]  # the start of a letter cut by the previous chunk
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            if not all_ascii:
                raise
            decoder = codecs.getincrementaldecoder("cp1251")()
            text = decoder.decode(pending + chunk)
        all_ascii = all_ascii and text.isascii()
        yield text
    pending = decoder.getstate()[0]
    try:
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        if not all_ascii:
            raise
        yield pending.decode("cp1251")


def lines(texts: Iterator[str]) -> Iterator[str]:
    """Lines for csv.reader, whatever the line ends (\r\n, \n, \r), a BOM dropped."""
    newlines, rest = io.IncrementalNewlineDecoder(None, translate=True), ""
    for number, text in enumerate(texts):
        text = text.removeprefix("\ufeff") if number == 0 else text
        *lines, rest = (rest + newlines.decode(text)).split("\n")
        yield from (line + "\n" for line in lines)
    rest += newlines.decode("", final=True)
    if rest:
        yield rest
