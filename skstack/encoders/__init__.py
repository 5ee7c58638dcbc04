"""Column encoders: type the columns of a frame and turn each modality into model features.

Numeric and categorical columns pass through to the model families; datetime, free-text and
image columns become numbers here (:func:`make_modality_encoder`). The text and image
embedders load their pretrained networks lazily from local files: nothing is downloaded.
"""

from ._columns import (
    MODALITIES,
    DatetimeEncoder,
    ModalityColumns,
    column_types,
    datetime_columns,
    make_modality_encoder,
)
from ._image import ImageEmbedder, image_columns, load_state_dict_in_order
from ._text import TextEmbedder, TfidfTextEncoder, default_text_model, text_columns

__all__ = [
    "MODALITIES",
    "DatetimeEncoder",
    "ImageEmbedder",
    "ModalityColumns",
    "TextEmbedder",
    "TfidfTextEncoder",
    "column_types",
    "datetime_columns",
    "default_text_model",
    "image_columns",
    "load_state_dict_in_order",
    "make_modality_encoder",
    "text_columns",
]
