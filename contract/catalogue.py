"""The one catalogue of coded bilingual texts: every message, finding, reason and label.

Every statement the desk, the CLIs and the dashboard make to a person has a stable code
(logs, tests, the HIS and the screen key on it) and a text in Vietnamese and English,
always in that order (:class:`Text` ``vi``, ``en``). Texts never contain personal data.

One flat namespace of dotted codes, by prefix:

* ``<area>.<problem>`` — problems and findings about a payload or a read (``qr.empty``,
  ``chip.card_removed``), and what to do next (``next.rescan_qr``): :func:`message`;
* ``reason.<code>`` — why a trust check passed or failed (``reason.revoked``): :func:`trust_reason`;
* ``level.<trust level>`` — a trust level's short label (``level.qr_only``): :func:`trust_level_label`;
* ``trust.<trust level>`` — the sentence the desk shows for a level (``trust.chip_verified``);
* ``method.<method>`` — how the card was read (``method.qr+chip``): :func:`method_label`;
* ``screen.<key>`` — the receptionist's screen's own words; ``field.<name>`` — a person's fields.

Pure data and small accessors: imports nothing beyond the standard library, so the
server's dashboard and the desk read the same words without loading each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Literal

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")


@dataclass(frozen=True, slots=True)
class Text:
    """One statement in both languages (Vietnamese first, always)."""

    vi: str
    en: str

    def in_language(self, lang: str) -> str:
        """The text in ``lang`` ('vi' or 'en'); anything else gets Vietnamese, the desk's language."""
        return self.en if lang == "en" else self.vi


# Payload problems and findings, chip-read problems, desk alarms, and what to do next.
_DOMAIN: dict[str, Text] = {
    "qr.empty": Text("Mã QR rỗng.", "The QR code is empty."),
    "qr.not_utf8": Text(
        "Dữ liệu QR không phải văn bản UTF-8 hợp lệ; hãy quét lại.",
        "The QR data is not valid UTF-8 text; scan again.",
    ),
    "qr.not_cccd": Text(
        "Mã QR này không phải mã QR của thẻ căn cước.",
        "This QR code is not a citizen ID card QR code.",
    ),
    "qr.bhyt_card": Text(
        "Đây là mã QR của thẻ bảo hiểm y tế, không phải thẻ căn cước. Hãy quét mã QR trên thẻ căn cước.",
        "This is a health-insurance (BHYT) card QR code, not a citizen ID card. Scan the QR code on the ID card.",
    ),
    "qr.field_count": Text(
        "Mã QR có số trường không đúng với thẻ căn cước.",
        "The QR code has a number of fields that no ID card layout has.",
    ),
    "qr.garbled_charset": Text(
        "Tên bị lỗi phông chữ (giải mã sai bảng mã); hãy quét lại bằng đầu đọc khác hoặc cập nhật phần mềm.",
        "The name is garbled (decoded with the wrong character set); rescan with another reader or update the software.",  # noqa: E501
    ),
    "qr.diacritics_lost": Text(
        "Máy quét đã làm mất chữ có dấu tiếng Việt (đang ở chế độ bàn phím). Hãy chuyển máy quét sang chế độ cổng serial (USB CDC).",  # noqa: E501
        "The scanner dropped the Vietnamese letters (it is in keyboard mode). Switch the scanner to USB serial (CDC) mode.",  # noqa: E501
    ),
    "image.unreadable": Text("Không đọc được tệp ảnh.", "The image file cannot be read."),
    "qr.not_found": Text("Không tìm thấy mã QR trong ảnh.", "No QR code was found in the image."),
    "id.format": Text(
        "Số định danh cá nhân phải gồm đúng 12 chữ số.",
        "The personal ID number must be exactly 12 digits.",
    ),
    "old_id.format": Text(
        "Số CMND cũ phải gồm 9 chữ số hoặc để trống.",
        "The old ID (CMND) number must be 9 digits or empty.",
    ),
    "name.empty": Text("Thiếu họ và tên.", "The full name is missing."),
    "name.invalid": Text("Họ và tên chứa ký tự không hợp lệ.", "The full name contains characters a name cannot have."),
    "dob.format": Text(
        "Ngày sinh không đúng định dạng ngày/tháng/năm.",
        "The date of birth is not in the day-month-year format.",
    ),
    "dob.invalid_date": Text("Ngày sinh không phải là ngày có thật.", "The date of birth is not a real calendar date."),
    "dob.future": Text("Ngày sinh nằm trong tương lai.", "The date of birth is in the future."),
    "sex.invalid": Text('Giới tính phải là "Nam" hoặc "Nữ".', 'The sex field must be "Nam" or "Nữ".'),
    "address.empty": Text("Thiếu địa chỉ nơi thường trú.", "The address is missing."),
    "issue.format": Text(
        "Ngày cấp không đúng định dạng ngày/tháng/năm.",
        "The issue date is not in the day-month-year format.",
    ),
    "issue.invalid_date": Text("Ngày cấp không phải là ngày có thật.", "The issue date is not a real calendar date."),
    "issue.future": Text("Ngày cấp nằm trong tương lai.", "The issue date is in the future."),
    "issue.future_unsynced": Text(
        "Ngày cấp sau ngày của đầu đọc, nhưng đồng hồ đầu đọc chưa đồng bộ: thẻ vẫn được nhận, hãy gọi kỹ thuật viên.",
        "The issue date is after the reader's date, but the reader's clock is not synchronised: "
        "the card is accepted; call the technician.",
    ),
    "dob.future_unsynced": Text(
        "Ngày sinh sau ngày của đầu đọc, nhưng đồng hồ đầu đọc chưa đồng bộ: thẻ vẫn được nhận, hãy gọi kỹ thuật viên.",
        "The date of birth is after the reader's date, but the reader's clock is not synchronised: "
        "the card is accepted; call the technician.",
    ),
    "issue.before_birth": Text("Ngày cấp trước ngày sinh.", "The issue date is before the date of birth."),
    "id.unknown_province": Text(
        "Mã tỉnh nơi đăng ký khai sinh trong số định danh không có trong danh mục.",
        "The birth-registration province code in the ID number is not in the list.",
    ),
    "id.sex_mismatch": Text(
        "Giới tính mã hóa trong số định danh khác với giới tính trên thẻ.",
        "The sex encoded in the ID number differs from the sex on the card.",
    ),
    "id.birth_year_mismatch": Text(
        "Năm sinh mã hóa trong số định danh khác với ngày sinh trên thẻ.",
        "The birth year encoded in the ID number differs from the date of birth on the card.",
    ),
    "card.expired": Text(
        "Thẻ đã hết hạn sử dụng theo quy định về độ tuổi đổi thẻ.",
        "The card has expired under the age rule for renewing cards.",
    ),
    "layout.app_rendered": Text(
        "Mã QR do ứng dụng tạo lại, không phải từ thẻ; không dùng để xác thực thẻ.",
        "This QR was re-rendered by an app, not read from a card; it cannot vouch for a card.",
    ),
    "layout.unexpected_field_count": Text(
        "Mã QR có số trường khác thường (không phải 7 hoặc 11); đã đọc các trường đầu.",
        "The QR has an unusual number of fields (neither 7 nor 11); the first fields were read.",
    ),
    "layout.extra_fields_present": Text(
        "Các trường bổ sung của thẻ mẫu 2024 có dữ liệu; đã giữ nguyên.",
        "The additional fields of the 2024 layout hold data; they were kept as they are.",
    ),
    "text.no_diacritics": Text(
        "Không có chữ có dấu nào trong tên và địa chỉ: máy quét có thể đang ở chế độ bàn phím và làm mất chữ tiếng Việt. Hãy chuyển sang chế độ serial (USB CDC).",  # noqa: E501
        "No Vietnamese letter in the name or address: the scanner may be in keyboard mode and dropping them. Switch it to USB serial (CDC) mode.",  # noqa: E501
    ),
    "next.place_card_on_reader": Text("Đặt thẻ lên đầu đọc.", "Place the card on the reader."),
    "next.rescan_qr": Text("Quét lại mã QR trên thẻ.", "Scan the QR code on the card again."),
    "next.scan_id_card": Text(
        "Đề nghị người bệnh xuất trình thẻ căn cước và quét mã QR trên thẻ.",
        "Ask the patient for the citizen ID card and scan the QR code on it.",
    ),
    "next.switch_scanner_to_serial": Text(
        "Chuyển máy quét sang chế độ cổng serial (USB CDC), rồi quét lại.",
        "Switch the scanner to USB serial (CDC) mode, then scan again.",
    ),
    "next.check_document_by_hand": Text(
        "Không xác thực được thẻ: kiểm tra giấy tờ tùy thân trực tiếp.",
        "The card could not be verified: check the identity document by hand.",
    ),
    "next.keep_card_still": Text(
        "Giữ yên thẻ trên đầu đọc cho đến khi có thông báo.",
        "Keep the card still on the reader until the result shows.",
    ),
    "next.type_can": Text(
        "Nhập 6 số cuối của số định danh để đọc chip.",
        "Type the last 6 digits of the ID number to read the chip.",
    ),
    "next.none": Text("Mời người bệnh tiếp tục.", "The patient may go on."),
    "next.scan_qr_or_type_can": Text(
        "Thẻ đã đặt trên đầu đọc: quét mã QR trên thẻ hoặc nhập 6 số cuối của số định danh.",
        "The card is on the reader: scan its QR code or type the last 6 digits of the ID number.",
    ),
    "outbox.alarm": Text(
        "Nhiều lượt tiếp đón chưa gửi được về máy chủ: kiểm tra kết nối mạng. Dữ liệu vẫn được giữ lại.",
        "Many check-ins have not reached the server: check the network. Nothing is lost.",
    ),
    "chip.access_denied": Text(
        "Không mở được chip bằng khóa lấy từ mã QR hoặc số đã nhập.",
        "The chip did not open with the key from the QR code or the digits typed.",
    ),
    "chip.card_removed": Text(
        "Thẻ bị nhấc khỏi đầu đọc khi đang đọc chip.",
        "The card left the reader while the chip was being read.",
    ),
    "chip.read_failed": Text(
        "Không đọc được chip (thẻ trả lời bất thường).",
        "The chip could not be read (the card answered abnormally).",
    ),
    "chip.reader_unavailable": Text("Không kết nối được đầu đọc chip.", "The chip reader is not available."),
    "issue.before_age_14": Text("Thẻ được cấp trước 14 tuổi.", "The card was issued before the holder turned 14."),
    # text fields checked like input from the outside world (QR fields, chip text)
    "text.too_long": Text(
        "Mã QR quá dài hoặc có trường quá dài so với thẻ căn cước; đã từ chối.",
        "The QR code, or one of its fields, is longer than any ID card's; refused.",
    ),
    "text.nul": Text(
        "Mã QR chứa ký tự rỗng (NUL) giữa dữ liệu; đã từ chối.",
        "The QR code holds a NUL character inside its data; refused.",
    ),
    "text.control_chars": Text(
        "Mã QR chứa ký tự điều khiển (xuống dòng, ESC...) trong một trường; đã từ chối.",
        "A QR field holds control characters (line breaks, ESC...); refused.",
    ),
    "text.bidi_controls": Text(
        "Mã QR chứa ký tự đảo chiều văn bản (Unicode bidi) có thể làm hiển thị sai; đã từ chối.",
        "The QR code holds Unicode bidi controls that can disguise what is shown; refused.",
    ),
    "text.markup": Text(
        "Mã QR chứa ký tự đánh dấu (< hoặc >) không có trên thẻ căn cước; đã từ chối.",
        "The QR code holds markup characters (< or >) that no ID card prints; refused.",
    ),
    "name.mixed_script": Text(
        "Họ tên có chữ cái không phải chữ Latinh (Kirin, Hy Lạp...) trông giống chữ tiếng Việt: kiểm tra lại với thẻ.",
        "The name holds non-Latin letters (Cyrillic, Greek...) that look like Vietnamese ones: check the card.",
    ),
    "address.mixed_script": Text(
        "Địa chỉ có chữ cái không phải chữ Latinh (Kirin, Hy Lạp...) trông giống chữ tiếng Việt: kiểm tra lại với thẻ.",
        "The address holds non-Latin letters (Cyrillic, Greek...) that look like Vietnamese ones: check the card.",
    ),
    "chip.text_refused": Text(
        "Dữ liệu văn bản trong chip chứa ký tự không hợp lệ; không chuyển cho phần mềm bệnh viện.",
        "The chip's text holds characters a card cannot have; it is not handed to the HIS.",
    ),
    # the visit at the desk
    "chip.not_presented": Text(
        "Thẻ không được đặt lên đầu đọc kịp thời: chỉ ghi nhận bằng mã QR, chưa xác thực chip.",
        "The card did not reach the reader in time: recorded from the QR code only, chip not verified.",
    ),
    "chip.read_rejected": Text(
        "Lượt đọc bị từ chối: không tiếp nhận người bệnh bằng thẻ này.",
        "The read was rejected: the patient is not checked in with this card.",
    ),
    "outbox.disk_full": Text(
        "Chưa ghi nhận — ổ đĩa đầy, gọi kỹ thuật viên.",
        "Not recorded — the disk is full, call the technician.",
    ),
    "outbox.write_failed": Text(
        "Chưa ghi nhận — không ghi được vào bộ nhớ của máy đọc, gọi kỹ thuật viên.",
        "Not recorded — the reader's storage cannot be written, call the technician.",
    ),
    "next.call_technician": Text(
        "Gọi kỹ thuật viên; tiếp nhận người bệnh theo cách thủ công trong lúc chờ.",
        "Call the technician; check the patient in by hand meanwhile.",
    ),
    "next.rescan_or_next": Text(
        "Bấm \"Quét lại\" để đọc lại thẻ, hoặc \"Người tiếp theo\".",
        "Press \"Rescan\" to read the card again, or \"Next patient\".",
    ),
    "can.visit_in_progress": Text(
        "Đang chờ thẻ của người bệnh hiện tại: bấm \"Người tiếp theo\" trước khi nhập số mới.",
        "The current patient's card is awaited: press \"Next patient\" before typing a new number.",
    ),
    "can.rate_limited": Text(
        "Nhập quá nhiều lần; hãy chờ vài giây rồi thử lại.",
        "Too many attempts; wait a few seconds and try again.",
    ),
    "can.invalid": Text(
        "Hãy nhập đúng 6 chữ số cuối của số định danh.",
        "Type exactly the last 6 digits of the ID number.",
    ),
    "desk.rescan_ready": Text(
        "Sẵn sàng quét lại: quét mã QR hoặc đặt thẻ lên đầu đọc.",
        "Ready to rescan: scan the QR code or place the card on the reader.",
    ),
}

# Words on the receptionist's screen ({n}, {t}: filled in by the page).
_SCREEN: dict[str, Text] = {
    "title": Text("Tiếp đón bằng thẻ căn cước", "Check-in with the citizen ID card"),
    "switch_language": Text("English", "Tiếng Việt"),
    "state.idle": Text("Mời quét mã QR trên thẻ căn cước", "Please scan the QR code on the ID card"),
    "state.waiting_card": Text("Đặt thẻ lên đầu đọc", "Place the card on the reader"),
    "state.waiting_qr": Text("Thẻ đã đặt trên đầu đọc", "The card is on the reader"),
    "state.reading": Text("Đang đọc chip — giữ yên thẻ", "Reading the chip — keep the card still"),
    "state.recorded": Text("Đã tiếp nhận", "Checked in"),
    "state.recorded_caution": Text("Đã tiếp nhận — cần lưu ý", "Checked in — please note"),
    "state.not_recorded": Text("Chưa tiếp nhận", "Not checked in"),
    "state.write_failed": Text("Chưa ghi nhận", "Not recorded"),
    "countdown": Text("Còn {n} giây, sau đó chỉ ghi nhận bằng mã QR", "{n} s left, then recorded from the QR only"),
    "no_photo": Text("Chưa đọc ảnh từ chip", "No photo read from the chip"),
    "sex.M": Text("Nam", "Male"),
    "sex.F": Text("Nữ", "Female"),
    "next_patient": Text("Người tiếp theo", "Next patient"),
    "rescan": Text("Quét lại", "Rescan"),
    "can_label": Text("Nhập 6 số cuối của số định danh", "Type the last 6 digits of the ID number"),
    "can_submit": Text("Đọc chip", "Read the chip"),
    "can_clear": Text("Xóa", "Clear"),
    "can_replace": Text("Thay người đang chờ", "Replace the waiting patient"),
    "history": Text("Lượt tiếp đón hôm nay", "Today's check-ins"),
    "history_empty": Text("Chưa có lượt nào hôm nay", "None yet today"),
    "compare_field": Text("Trường", "Field"),
    "compare_qr": Text("Mã QR", "QR code"),
    "compare_chip": Text("Chip", "Chip"),
    "compare_differs": Text("khác nhau", "differs"),
    "online": Text("Đã kết nối máy chủ", "Connected to the server"),
    "offline": Text("Mất kết nối máy chủ — dữ liệu được giữ lại", "Server unreachable — data is kept"),
    "outbox": Text("Đang chờ gửi: {n} lượt", "Waiting to send: {n}"),
    "last_scan": Text("Lần quét gần nhất: {t}", "Last scan: {t}"),
    "token_label": Text("Mã truy cập màn hình", "Screen access token"),
    "token_submit": Text("Mở màn hình", "Open the screen"),
    "token_refused": Text("Mã truy cập không đúng", "Wrong access token"),
    "clock_unsynchronised": Text(
        "Đồng hồ máy đọc chưa đồng bộ: ngày giờ có thể sai, gọi kỹ thuật viên",
        "The reader's clock is not synchronised: the date may be wrong, call the technician",
    ),
}

# The person's fields, as the screen and the side-by-side comparison name them.
_FIELDS: dict[str, Text] = {
    "id_number": Text("Số định danh", "ID number"),
    "full_name": Text("Họ và tên", "Full name"),
    "date_of_birth": Text("Ngày sinh", "Date of birth"),
    "sex": Text("Giới tính", "Sex"),
    "address": Text("Nơi thường trú", "Address"),
}

# Why a trust check passed or failed (edge.trust.result.Reason), by bare code.
_TRUST_REASONS: dict[str, Text] = {
    "not_checked": Text("Chưa kiểm tra.", "Not checked."),
    "dg_hashes_match": Text(
        "Mọi nhóm dữ liệu đã đọc khớp với giá trị băm trong EF.SOD.",
        "Every data group read matches its hash in EF.SOD.",
    ),
    "dg_hash_mismatch": Text(
        "Một nhóm dữ liệu không khớp giá trị băm trong EF.SOD: dữ liệu đã bị thay đổi.",
        "A data group does not match its hash in EF.SOD: the data was altered.",
    ),
    "dg_not_in_sod": Text(
        "Có nhóm dữ liệu không được EF.SOD bảo vệ: nội dung của nó không được xác thực.",
        "A data group was read that EF.SOD does not cover: its content is not authenticated.",
    ),
    "no_data_groups": Text("Không có nhóm dữ liệu nào để kiểm tra.", "No data group was given to check."),
    "signature_valid": Text(
        "Chữ ký của EF.SOD hợp lệ theo chứng thư người ký tài liệu.",
        "The EF.SOD signature is valid under the document signer certificate.",
    ),
    "signature_invalid": Text("Chữ ký của EF.SOD không hợp lệ.", "The EF.SOD signature does not verify."),
    "message_digest_mismatch": Text(
        "Giá trị băm được ký không khớp với đối tượng bảo mật.",
        "The signed message digest does not match the security object.",
    ),
    "ds_certificate_missing": Text(
        "Không có chứng thư người ký tài liệu: không có trong EF.SOD lẫn kho tin cậy.",
        "No document signer certificate: neither in EF.SOD nor in the trust store.",
    ),
    "unsupported_algorithm": Text(
        "Chữ ký dùng thuật toán hoặc đường cong không được hỗ trợ.",
        "The signature uses an algorithm or curve that is not supported.",
    ),
    "sod_unparsable": Text("Không phân tích được EF.SOD.", "EF.SOD could not be parsed."),
    "chain_anchored": Text(
        "Chứng thư người ký tài liệu được xác thực tới một CSCA tin cậy.",
        "The document signer certificate chains to a trusted CSCA.",
    ),
    "pinned_document_signer": Text(
        "Chứng thư người ký tài liệu đã được ghim trong kho tin cậy.",
        "The document signer certificate is pinned in the trust store.",
    ),
    "csca_not_found": Text(
        "Không có CSCA tin cậy hoặc chứng thư ghim nào khớp với người ký tài liệu này.",
        "No trusted CSCA or pinned document signer matches this document signer.",
    ),
    "ds_certificate_signature_invalid": Text(
        "Chữ ký trên chứng thư người ký tài liệu không hợp lệ theo CSCA mà nó khai báo.",
        "The document signer certificate's signature does not verify under the CSCA it names.",
    ),
    "no_trust_store": Text("Không có kho chứng thư tin cậy.", "No trust store was given."),
    "within_validity": Text(
        "Chứng thư người ký tài liệu và CSCA còn hiệu lực tại ngày đọc.",
        "The document signer and CSCA certificates are valid at the reading date.",
    ),
    "ds_expired": Text(
        "Chứng thư người ký tài liệu đã hết hạn tại ngày đọc.",
        "The document signer certificate had expired at the reading date.",
    ),
    "ds_not_yet_valid": Text(
        "Chứng thư người ký tài liệu chưa có hiệu lực tại ngày đọc.",
        "The document signer certificate was not yet valid at the reading date.",
    ),
    "csca_expired": Text(
        "Chứng thư CSCA đã hết hạn tại ngày đọc.",
        "The CSCA certificate had expired at the reading date.",
    ),
    "csca_not_yet_valid": Text(
        "Chứng thư CSCA chưa có hiệu lực tại ngày đọc.",
        "The CSCA certificate was not yet valid at the reading date.",
    ),
    "not_revoked": Text(
        "Chứng thư người ký tài liệu không có trong danh sách thu hồi của CSCA.",
        "The document signer certificate is not on the CSCA's revocation list.",
    ),
    "revoked": Text("Chứng thư người ký tài liệu đã bị thu hồi.", "The document signer certificate has been revoked."),
    "no_crl": Text("Không có danh sách thu hồi cho CSCA này.", "No revocation list for this CSCA is available."),
    "crl_signature_invalid": Text(
        "Chữ ký của danh sách thu hồi không hợp lệ theo CSCA.",
        "The revocation list's signature does not verify under the CSCA.",
    ),
    "crl_outdated": Text(
        "Danh sách thu hồi đã quá hạn cập nhật tại ngày đọc.",
        "The revocation list was past its next update at the reading date.",
    ),
    "ca_passed": Text("Xác thực chip thành công.", "Chip Authentication succeeded."),
    "ca_failed": Text(
        "Xác thực chip thất bại: chip có thể là bản sao.",
        "Chip Authentication failed: the chip may be a clone.",
    ),
    "aa_passed": Text("Xác thực chủ động thành công.", "Active Authentication succeeded."),
    "aa_failed": Text(
        "Xác thực chủ động thất bại: chip có thể là bản sao.",
        "Active Authentication failed: the chip may be a clone.",
    ),
    "crosscheck_match": Text("Dữ liệu mã QR và chip trùng khớp.", "QR code and chip data agree."),
    "id_number_mismatch": Text(
        "Số định danh trong mã QR khác với trong chip.",
        "The ID number in the QR code differs from the chip's.",
    ),
    "name_mismatch": Text(
        "Họ tên trong mã QR khác với trong chip.",
        "The name in the QR code differs from the chip's.",
    ),
    "date_of_birth_mismatch": Text(
        "Ngày sinh trong mã QR khác với trong chip.",
        "The date of birth in the QR code differs from the chip's.",
    ),
    "sex_mismatch": Text(
        "Giới tính trong mã QR khác với trong chip.",
        "The sex in the QR code differs from the chip's.",
    ),
}

# The trust levels' short labels (screen chip, dashboard tables, CLI output).
_TRUST_LEVELS: dict[str, Text] = {
    "invalid": Text("Không hợp lệ", "Invalid"),
    "qr_only": Text("Chỉ mã QR — chưa xác thực chip", "QR only — chip not verified"),
    "chip_data_unanchored": Text("Dữ liệu chip có chữ ký, chưa có chứng thư gốc", "Chip data signed, no trust anchor"),
    "chip_verified": Text("Chip đã xác thực", "Chip verified"),
    "chip_verified_clone_checked": Text("Chip đã xác thực, không phải bản sao", "Chip verified, not a clone"),
}

# What the desk says about a level, as a finding on the screen.
_TRUST_SENTENCES: dict[str, Text] = {
    "chip_verified_clone_checked": Text("Chip xác thực và không phải bản sao.", "Chip verified and not a clone."),
    "chip_verified": Text("Dữ liệu chip đã được xác thực.", "Chip data verified."),
    "chip_data_unanchored": Text(
        "Dữ liệu chip có chữ ký hợp lệ nhưng chưa có chứng thư gốc (CSCA) để đối chiếu.",
        "The chip data is signed, but no trusted root (CSCA) is installed to anchor it.",
    ),
    "qr_only": Text(
        "Chỉ đọc được mã QR: mã QR không có chữ ký nên chỉ nhận diện, không xác thực thẻ.",
        "Only the QR code was read: it is unsigned, so it identifies the card but does not prove it.",
    ),
    "invalid": Text(
        "Không xác thực được thẻ: dữ liệu không hợp lệ hoặc không khớp.",
        "The card could not be verified: its data is invalid or does not match.",
    ),
}

# How the card was read.
_METHODS: dict[str, Text] = {
    "qr": Text("Mã QR", "QR code"),
    "chip": Text("Chip", "Chip"),
    "qr+chip": Text("QR + chip", "QR + chip"),
}



def _build() -> Mapping[str, Text]:
    flat: dict[str, Text] = dict(_DOMAIN)
    for prefix, section in (("reason", _TRUST_REASONS), ("level", _TRUST_LEVELS), ("trust", _TRUST_SENTENCES),
                            ("method", _METHODS), ("screen", _SCREEN), ("field", _FIELDS)):
        for code, text in section.items():
            flat[f"{prefix}.{code}"] = text
    return MappingProxyType(flat)


#: Every code -> its text. Read-only.
CATALOGUE: Mapping[str, Text] = _build()
#: The payload and desk messages (``edge.domain.messages.MESSAGES``).
DOMAIN_MESSAGES: Mapping[str, Text] = MappingProxyType(_DOMAIN)
#: The trust checks' reasons, by their bare code (``edge.trust.result.REASONS`` reads them).
TRUST_REASONS: Mapping[str, Text] = MappingProxyType(_TRUST_REASONS)
#: Trust level value -> short label, in the levels' order from worst to best.
TRUST_LEVEL_LABELS: Mapping[str, Text] = MappingProxyType(_TRUST_LEVELS)
#: Method value -> label.
METHOD_LABELS: Mapping[str, Text] = MappingProxyType(_METHODS)
#: The receptionist's screen's own words, by key (``state.recorded``...).
SCREEN_LABELS: Mapping[str, Text] = MappingProxyType(_SCREEN)
#: The person's field names (``full_name``...).
FIELD_LABELS: Mapping[str, Text] = MappingProxyType(_FIELDS)


def _value(key: str | Enum) -> str:
    return str(key.value) if isinstance(key, Enum) else key


def text(code: str) -> Text:
    """The text of any code in the catalogue; KeyError on an unknown one (a programming error)."""
    return CATALOGUE[code]


def message(code: str) -> Text:
    """A payload or desk message (``qr.empty``, ``next.rescan_qr``...)."""
    return _DOMAIN[code]


def trust_reason(code: str) -> Text:
    """A trust check's reason by its bare code (``revoked``)."""
    return _TRUST_REASONS[code]


def trust_level_label(level: str | Enum) -> Text:
    """A trust level's short label; takes the level or its value ('qr_only')."""
    return _TRUST_LEVELS[_value(level)]


def trust_sentence(level: str | Enum) -> Text:
    """The sentence the desk shows for a trust level."""
    return _TRUST_SENTENCES[_value(level)]


def method_label(method: str | Enum) -> Text:
    """How the card was read, as a label; takes the method or its value ('qr+chip')."""
    return _METHODS[_value(method)]


def labels(lang: Language, section: Mapping[str, Text]) -> dict[str, str]:
    """A section in one language, e.g. ``labels("vi", TRUST_LEVEL_LABELS)`` for a template."""
    return {code: t.in_language(lang) for code, t in section.items()}
