"""The import page's limits on an upload, applied while it arrives: nothing past them is stored anywhere."""

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from trials.ctgov import limits, validation


class LimitedUpload(FileUploadHandler):
    """Counts an upload's files and bytes as they arrive and stops reading at the first one past a limit,
    before the rest is stored anywhere (the limits are in trials/ctgov/limits.py). `problem` then says why."""

    def __init__(self, request=None):
        super().__init__(request)
        self.files = self.total = self.file_size = 0
        self.problem = ""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > limits.MAX_UPLOAD_BYTES + 1_000_000:  # the files alone would be too large
            self.problem = self._too_large()

    def new_file(self, field_name, file_name, *args, **kwargs):
        self.files += 1
        self.file_size = 0
        self.file_name = file_name
        if self.files > limits.MAX_UPLOAD_FILES:
            self.problem = (
                f"At most {limits.MAX_UPLOAD_FILES} files at a time: nothing was imported; import them in groups."
            )
        if self.problem:
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        self.file_size += len(raw_data)
        if self.file_size > validation.MAX_DOCUMENT_BYTES:
            self.problem = (
                f"{self.file_name} is larger than a study record can be (at most "
                f"{validation.MAX_DOCUMENT_BYTES // 1_000_000} MB): nothing was imported."
            )
        elif self.total > limits.MAX_UPLOAD_BYTES:
            self.problem = self._too_large()
        if self.problem:
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler stores the file

    def _too_large(self):
        return (
            f"The files together are larger than {limits.MAX_UPLOAD_BYTES // 1_000_000} MB: nothing was imported; "
            "import them in groups."
        )
