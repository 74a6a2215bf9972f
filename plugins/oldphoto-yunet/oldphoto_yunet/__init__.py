"""oldphoto-yunet: the YuNet face detector (libfacedetection via ``yuface``) as a plugin."""

__version__ = "0.1.0"
