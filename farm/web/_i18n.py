"""The pages' words in English and Vietnamese: ``t(key, lang)``, and the language a request asks for."""

from __future__ import annotations

from farm.web._state import LANGS

MESSAGES: dict[str, tuple[str, str]] = {  # key: (en, vi)
    "farm": ("Reel farm", "Trại video"),
    "nav.overview": ("Overview", "Tổng quan"),
    "nav.queue": ("Queue", "Hàng đợi"),
    "nav.library": ("Library", "Thư viện"),
    "nav.products": ("Products", "Sản phẩm"),
    "nav.accounts": ("Accounts", "Tài khoản"),
    "nav.calendar": ("Calendar", "Lịch đăng"),
    "nav.analytics": ("Analytics", "Phân tích"),
    "busy": ("busy: another farm process holds the workspace", "bận: một tiến trình farm khác đang giữ workspace"),
    "busy.retry": ("Try again", "Thử lại"),
    "not_found": ("Not found", "Không tìm thấy"),
    "error": ("Could not do that", "Không thực hiện được"),
    "back": ("Back", "Quay lại"),
    "tonight": ("Tonight's batch", "Lô đêm nay"),
    "no_batch": ("No nightly batch yet.", "Chưa có lô đêm nào."),
    "done": ("done", "xong"),
    "pending": ("pending", "đang chờ"),
    "failed": ("failed", "lỗi"),
    "rate": ("Videos per minute (last 24 h)", "Video mỗi phút (24 giờ qua)"),
    "failures": ("Failures", "Lỗi"),
    "no_failures": ("No failures.", "Không có lỗi."),
    "alerts": ("Open alerts", "Cảnh báo đang mở"),
    "no_alerts": ("No open alerts.", "Không có cảnh báo."),
    "jobs_total": ("Jobs", "Công việc"),
    "live": ("live", "trực tiếp"),
    "col.id": ("ID", "ID"),
    "col.kind": ("Kind", "Loại"),
    "col.state": ("State", "Trạng thái"),
    "col.platform": ("Platform", "Nền tảng"),
    "col.attempts": ("Attempts", "Lần thử"),
    "col.error": ("Error", "Lỗi"),
    "col.created": ("Created", "Tạo lúc"),
    "col.at": ("At", "Lúc"),
    "col.stage": ("Stage", "Bước"),
    "col.status": ("Status", "Kết quả"),
    "col.duration": ("ms", "ms"),
    "col.detail": ("Detail", "Chi tiết"),
    "col.day": ("Day", "Ngày"),
    "col.account": ("Account", "Tài khoản"),
    "col.views": ("Views", "Lượt xem"),
    "col.engagement": ("Engagement", "Tương tác"),
    "col.videos": ("Videos", "Video"),
    "col.commission": ("Commission", "Hoa hồng"),
    "col.orders": ("Orders", "Đơn"),
    "any": ("any", "tất cả"),
    "filter": ("Filter", "Lọc"),
    "prev": ("Previous", "Trước"),
    "next": ("Next", "Sau"),
    "page": ("page", "trang"),
    "no_jobs": ("No jobs.", "Không có công việc."),
    "job": ("Job", "Công việc"),
    "retry": ("Retry", "Thử lại"),
    "cancel": ("Cancel", "Hủy"),
    "video": ("Video", "Video"),
    "no_video": ("No video yet.", "Chưa có video."),
    "download": ("Download", "Tải về"),
    "post_text": ("Post text", "Nội dung bài đăng"),
    "sub_id": ("sub-id", "sub-id"),
    "link": ("Link", "Liên kết"),
    "log": ("Log", "Nhật ký"),
    "no_log": ("No log yet.", "Chưa có nhật ký."),
    "last_error": ("Last error", "Lỗi gần nhất"),
    "licence": ("Licence", "Giấy phép"),
    "mood": ("Mood", "Tâm trạng"),
    "save": ("Save", "Lưu"),
    "saved": ("Saved", "Đã lưu"),
    "import": ("Import", "Nhập"),
    "import.file": ("File", "Tệp"),
    "import.done": ("Imported", "Đã nhập"),
    "import.duplicate": ("Already in the library", "Đã có trong thư viện"),
    "no_media": ("No media. Import a file.", "Chưa có media. Hãy nhập một tệp."),
    "used": ("used", "đã dùng"),
    "no_products": ("No products.", "Chưa có sản phẩm."),
    "price": ("Price", "Giá"),
    "promos": ("Promos", "Video quảng bá"),
    "no_promos": ("No promos yet.", "Chưa có video quảng bá."),
    "no_accounts": ("No accounts: connect one.", "Chưa có tài khoản: hãy kết nối."),
    "health": ("Health", "Sức khỏe"),
    "cap_today": ("Cap today", "Giới hạn hôm nay"),
    "token": ("Token", "Token"),
    "connect": ("Connect", "Kết nối"),
    "reconnect": ("Reconnect", "Kết nối lại"),
    "enable": ("Enable", "Bật"),
    "disable": ("Disable", "Tắt"),
    "pause": ("Pause 1 day", "Tạm dừng 1 ngày"),
    "resume": ("Resume", "Tiếp tục"),
    "state.connected": ("connected", "đã kết nối"),
    "state.paused": ("paused", "tạm dừng"),
    "state.reconnect": ("needs reconnect", "cần kết nối lại"),
    "state.disabled": ("disabled", "đã tắt"),
    "planned": ("planned", "dự kiến"),
    "published": ("published", "đã đăng"),
    "no_posts": ("Nothing planned or published this fortnight.", "Không có bài dự kiến hay đã đăng trong hai tuần này."),
    "unassigned": ("no account yet", "chưa có tài khoản"),
    "views_chart": ("Views per day", "Lượt xem mỗi ngày"),
    "engagement_chart": ("Engagement per day", "Tương tác mỗi ngày"),
    "revenue_chart": ("Revenue per day", "Doanh thu mỗi ngày"),
    "rendered_chart": ("Videos rendered per day", "Video đã dựng mỗi ngày"),
    "no_data": ("No data yet.", "Chưa có dữ liệu."),
    "csrf": ("the form has expired: reload the page", "biểu mẫu đã hết hạn: hãy tải lại trang"),
}


def t(key: str, lang: str) -> str:
    """The text for ``key`` in ``lang`` (English where the language is unknown); the key itself when missing."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "vi" else pair[0]


def page_lang(request) -> str:
    """``?lang=vi|en`` when given, else the server's language (``WebState.lang``)."""
    from farm.web._state import web_state

    asked = request.query_params.get("lang")
    return asked if asked in LANGS else web_state(request).lang
