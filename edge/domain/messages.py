"""Stable problem codes with their messages in Vietnamese and English.

Every problem the desk can report — a fatal error or a non-fatal finding — has a
code that never changes (logs, tests and the receptionist's screen key on it) and a
message in both languages. Messages never contain personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Message:
    """A problem's text in both languages."""

    vi: str
    en: str


# Code -> message. Codes are dotted: "<area>.<problem>".
MESSAGES: dict[str, Message] = {
    # payload-level errors
    "qr.empty": Message("Mã QR rỗng.", "The QR code is empty."),
    "qr.not_utf8": Message(
        "Dữ liệu QR không phải văn bản UTF-8 hợp lệ; hãy quét lại.",
        "The QR data is not valid UTF-8 text; scan again.",
    ),
    "qr.not_cccd": Message(
        "Mã QR này không phải mã QR của thẻ căn cước.",
        "This QR code is not a citizen ID card QR code.",
    ),
    "qr.bhyt_card": Message(
        "Đây là mã QR của thẻ bảo hiểm y tế, không phải thẻ căn cước. Hãy quét mã QR trên thẻ căn cước.",
        "This is a health-insurance (BHYT) card QR code, not a citizen ID card. Scan the QR code on the ID card.",
    ),
    "qr.field_count": Message(
        "Mã QR có số trường không đúng với thẻ căn cước.",
        "The QR code has a number of fields that no ID card layout has.",
    ),
    "qr.garbled_charset": Message(
        "Tên bị lỗi phông chữ (giải mã sai bảng mã); hãy quét lại bằng đầu đọc khác hoặc cập nhật phần mềm.",
        "The name is garbled (decoded with the wrong character set); rescan with another reader or update the software.",
    ),
    "qr.diacritics_lost": Message(
        "Máy quét đã làm mất chữ có dấu tiếng Việt (đang ở chế độ bàn phím). Hãy chuyển máy quét sang chế độ cổng serial (USB CDC).",
        "The scanner dropped the Vietnamese letters (it is in keyboard mode). Switch the scanner to USB serial (CDC) mode.",
    ),
    # image errors (decode-qr)
    "image.unreadable": Message("Không đọc được tệp ảnh.", "The image file cannot be read."),
    "qr.not_found": Message("Không tìm thấy mã QR trong ảnh.", "No QR code was found in the image."),
    # field errors
    "id.format": Message(
        "Số định danh cá nhân phải gồm đúng 12 chữ số.",
        "The personal ID number must be exactly 12 digits.",
    ),
    "old_id.format": Message(
        "Số CMND cũ phải gồm 9 chữ số hoặc để trống.",
        "The old ID (CMND) number must be 9 digits or empty.",
    ),
    "name.empty": Message("Thiếu họ và tên.", "The full name is missing."),
    "name.invalid": Message(
        "Họ và tên chứa ký tự không hợp lệ.",
        "The full name contains characters a name cannot have.",
    ),
    "dob.format": Message(
        "Ngày sinh không đúng định dạng ngày/tháng/năm.",
        "The date of birth is not in the day-month-year format.",
    ),
    "dob.invalid_date": Message(
        "Ngày sinh không phải là ngày có thật.",
        "The date of birth is not a real calendar date.",
    ),
    "dob.future": Message("Ngày sinh nằm trong tương lai.", "The date of birth is in the future."),
    "sex.invalid": Message(
        "Giới tính phải là \"Nam\" hoặc \"Nữ\".",
        "The sex field must be \"Nam\" or \"Nữ\".",
    ),
    "address.empty": Message("Thiếu địa chỉ nơi thường trú.", "The address is missing."),
    "issue.format": Message(
        "Ngày cấp không đúng định dạng ngày/tháng/năm.",
        "The issue date is not in the day-month-year format.",
    ),
    "issue.invalid_date": Message(
        "Ngày cấp không phải là ngày có thật.",
        "The issue date is not a real calendar date.",
    ),
    "issue.future": Message("Ngày cấp nằm trong tương lai.", "The issue date is in the future."),
    "issue.before_birth": Message(
        "Ngày cấp trước ngày sinh.",
        "The issue date is before the date of birth.",
    ),
    # non-fatal findings (warnings)
    "id.unknown_province": Message(
        "Mã tỉnh nơi đăng ký khai sinh trong số định danh không có trong danh mục.",
        "The birth-registration province code in the ID number is not in the list.",
    ),
    "id.sex_mismatch": Message(
        "Giới tính mã hóa trong số định danh khác với giới tính trên thẻ.",
        "The sex encoded in the ID number differs from the sex on the card.",
    ),
    "id.birth_year_mismatch": Message(
        "Năm sinh mã hóa trong số định danh khác với ngày sinh trên thẻ.",
        "The birth year encoded in the ID number differs from the date of birth on the card.",
    ),
    "card.expired": Message(
        "Thẻ đã hết hạn sử dụng theo quy định về độ tuổi đổi thẻ.",
        "The card has expired under the age rule for renewing cards.",
    ),
    "layout.app_rendered": Message(
        "Mã QR do ứng dụng tạo lại, không phải từ thẻ; không dùng để xác thực thẻ.",
        "This QR was re-rendered by an app, not read from a card; it cannot vouch for a card.",
    ),
    "layout.unexpected_field_count": Message(
        "Mã QR có số trường khác thường (không phải 7 hoặc 11); đã đọc các trường đầu.",
        "The QR has an unusual number of fields (neither 7 nor 11); the first fields were read.",
    ),
    "layout.extra_fields_present": Message(
        "Các trường bổ sung của thẻ mẫu 2024 có dữ liệu; đã giữ nguyên.",
        "The additional fields of the 2024 layout hold data; they were kept as they are.",
    ),
    "text.no_diacritics": Message(
        "Không có chữ có dấu nào trong tên và địa chỉ: máy quét có thể đang ở chế độ bàn phím và làm mất chữ tiếng Việt. Hãy chuyển sang chế độ serial (USB CDC).",
        "No Vietnamese letter in the name or address: the scanner may be in keyboard mode and dropping them. Switch it to USB serial (CDC) mode.",
    ),
    # what the receptionist should do next (shown under a failed or partial read)
    "next.place_card_on_reader": Message("Đặt thẻ lên đầu đọc.", "Place the card on the reader."),
    "next.rescan_qr": Message("Quét lại mã QR trên thẻ.", "Scan the QR code on the card again."),
    "next.scan_id_card": Message(
        "Đề nghị người bệnh xuất trình thẻ căn cước và quét mã QR trên thẻ.",
        "Ask the patient for the citizen ID card and scan the QR code on it.",
    ),
    "next.switch_scanner_to_serial": Message(
        "Chuyển máy quét sang chế độ cổng serial (USB CDC), rồi quét lại.",
        "Switch the scanner to USB serial (CDC) mode, then scan again.",
    ),
    "next.check_document_by_hand": Message(
        "Không xác thực được thẻ: kiểm tra giấy tờ tùy thân trực tiếp.",
        "The card could not be verified: check the identity document by hand.",
    ),
    "next.keep_card_still": Message(
        "Giữ yên thẻ trên đầu đọc cho đến khi có thông báo.",
        "Keep the card still on the reader until the result shows.",
    ),
    "next.type_can": Message(
        "Nhập 6 số cuối của số định danh để đọc chip.",
        "Type the last 6 digits of the ID number to read the chip.",
    ),
    "next.none": Message("Mời người bệnh tiếp tục.", "The patient may go on."),
    "next.scan_qr_or_type_can": Message(
        "Thẻ đã đặt trên đầu đọc: quét mã QR trên thẻ hoặc nhập 6 số cuối của số định danh.",
        "The card is on the reader: scan its QR code or type the last 6 digits of the ID number.",
    ),
    "outbox.alarm": Message(
        "Nhiều lượt tiếp đón chưa gửi được về máy chủ: kiểm tra kết nối mạng. Dữ liệu vẫn được giữ lại.",
        "Many check-ins have not reached the server: check the network. Nothing is lost.",
    ),
    # chip reading
    "chip.access_denied": Message(
        "Không mở được chip bằng khóa lấy từ mã QR hoặc số đã nhập.",
        "The chip did not open with the key from the QR code or the digits typed.",
    ),
    "chip.card_removed": Message(
        "Thẻ bị nhấc khỏi đầu đọc khi đang đọc chip.",
        "The card left the reader while the chip was being read.",
    ),
    "chip.read_failed": Message(
        "Không đọc được chip (thẻ trả lời bất thường).",
        "The chip could not be read (the card answered abnormally).",
    ),
    "chip.reader_unavailable": Message(
        "Không kết nối được đầu đọc chip.",
        "The chip reader is not available.",
    ),
    "issue.before_age_14": Message(
        "Thẻ được cấp trước 14 tuổi.",
        "The card was issued before the holder turned 14.",
    ),
}


class Finding(BaseModel):
    """A coded, bilingual statement about a payload: a warning or a fatal error."""

    model_config = ConfigDict(frozen=True)

    code: str
    message_vi: str
    message_en: str

    @classmethod
    def of(cls, code: str) -> Finding:
        msg = MESSAGES[code]
        return cls(code=code, message_vi=msg.vi, message_en=msg.en)


class DomainError(Exception):
    """A fatal problem with a stable code; carries no personal data."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        msg = MESSAGES[code]
        self.code = code
        self.message_vi = msg.vi
        self.message_en = msg.en
        self.detail = detail
        super().__init__(f"{code}: {msg.en}" + (f" ({detail})" if detail else ""))

    def to_dict(self, lang: str = "vi") -> dict[str, Any]:
        """The error object the CLI prints and the APIs return."""
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message_vi if lang == "vi" else self.message_en,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


class QrError(DomainError):
    """The QR payload cannot be used as a CCCD record."""
