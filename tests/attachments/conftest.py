import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

GPS_IFD = 0x8825


def photo_bytes(*, size=(640, 480), format="JPEG", gps=True, orientation=None, color=(200, 40, 40)):
    """A photo as a phone sends it: with the phone's GPS position and, if asked, a "rotate me" tag."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    if orientation:
        exif[0x0112] = orientation
    data = io.BytesIO()
    image.save(data, format, exif=exif.tobytes())
    return data.getvalue()


def upload(name="IMG_0042.jpg", data=None, content_type="image/jpeg"):
    return SimpleUploadedFile(name, photo_bytes() if data is None else data, content_type=content_type)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
