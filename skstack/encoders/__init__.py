"""Column encoders: type the columns of a frame and turn each kind into model features."""

from ._columns import DatetimeEncoder, datetime_columns, make_modality_encoder

__all__ = ["DatetimeEncoder", "datetime_columns", "make_modality_encoder"]
