"""Regenerate the byte fixtures of tests/test_extract*.py: `python tests/data/extract/make_fixtures.py`.

Each file is a page as an old or new site would have served it, in its own encoding,
so the tests read real bytes and not strings the test encoded itself.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent

AZ = [
    "Azərbaycan Respublikasında Açıq Hökumətin təşviqinə dair 2016–2018-ci illər üçün Milli Fəaliyyət Planı "
    "ictimaiyyətin iştirakı ilə hazırlanmışdır.",
    "Dağlıq Qarabağ münaqişəsindən zərər çəkmiş ailələrə sosial yardım göstərilməsi barədə hesabat "
    "İqtisadiyyat Nazirliyinin saytında dərc olunmuşdur.",
    "Şəffaflıq, hesabatlılıq və vətəndaş cəmiyyəti ilə əməkdaşlıq planın əsas istiqamətləridir; "
    "qış aylarında Gəncə, Şuşa və Lənkəran şəhərlərində ictimai müzakirələr keçirilmişdir.",
]
RU = [
    "Правительство Азербайджанской Республики утвердило Национальный план действий по содействию "
    "открытому правительству на 2016–2018 годы.",
    "Общественные слушания прошли в Баку, Гяндже и Сумгаите; в них участвовали представители "
    "неправительственных организаций, журналисты и эксперты.",
    "Отчёт о выполнении плана опубликован на официальном сайте министерства экономики. "
    "Ещё один отчёт готовится к публикации.",
]
NAV_AZ = "<nav><a href='/'>Ana səhifə</a> | <a href='/news'>Xəbərlər</a></nav>"
NAV_RU = "<nav><a href='/'>Главная</a> | <a href='/news'>Новости</a></nav>"


def page(title: str, paras: list[str], *, head: str = "", lang: str | None = None, extra: str = "",
         nav: str = NAV_AZ) -> str:
    lang_attr = f' lang="{lang}"' if lang else ""
    body = "\n".join(f"<p>{p}</p>" for p in paras)
    return (f"<!DOCTYPE html>\n<html{lang_attr}><head>{head}<title>{title}</title>"
            f"<style>p {{ color: #333 }}</style><script>var x = 'ignored';</script></head>\n"
            f"<body>{nav}<article><h1>{title}</h1>\n{body}\n{extra}</article>"
            f"<footer>© 2017</footer></body></html>\n")


def without_schwa(s: str) -> str:
    """windows-1254 has no ə: old Azerbaijani sites wrote ä (Ə: Ä) instead (and ISO-8859-9 has no –)."""
    return s.replace("ə", "ä").replace("Ə", "Ä").replace("–", "-")


def main() -> None:
    az_title = "Milli Fəaliyyət Planı"
    files = {
        "az-utf8-meta.html": (page(az_title, AZ, head='<meta charset="utf-8">', lang="az"), "utf-8"),
        "az-utf8-nodecl.html": (page(az_title, AZ), "utf-8"),
        "az-cp1254-meta.html": (without_schwa(page(az_title, AZ, lang="az",
            head='<meta http-equiv="Content-Type" content="text/html; charset=windows-1254">')), "cp1254"),
        "az-iso8859-9-lang.html": (without_schwa(page(az_title, AZ, lang="az-Latn-AZ")), "iso8859-9"),
        "az-cp1254-nodecl.html": (without_schwa(page(az_title, AZ)), "cp1254"),
        "ru-cp1251-meta.html": (page("Национальный план", RU, nav=NAV_RU, lang="ru",
            head='<meta http-equiv="content-type" content="text/html; charset=windows-1251">'), "cp1251"),
        "ru-cp1251-nodecl.html": (page("Национальный план", RU, nav=NAV_RU), "cp1251"),
        "ru-koi8r-nodecl.html": (page("Национальный план", RU, nav=NAV_RU), "koi8-r"),
        # wrongly declared: the page says windows-1252 / windows-1251, the bytes are not
        "ru-cp1251-declared-cp1252.html": (page("Национальный план", RU, nav=NAV_RU,
            head='<meta charset="windows-1252">'), "cp1251"),
        "ru-koi8r-declared-cp1251.html": (page("Национальный план", RU, nav=NAV_RU,
            head='<meta charset="windows-1251">'), "koi8-r"),
        "az-utf8-declared-latin1.html": (page(az_title, AZ, head='<meta charset="iso-8859-1">'), "utf-8"),
        "ru-cp1251.txt": ("\n\n".join(RU) + "\n", "cp1251"),
        "az-cp1254.txt": (without_schwa("\n\n".join(AZ)) + "\n", "cp1254"),
        "table.html": (page("Hesabat cədvəli", AZ[:1], head='<meta charset="utf-8">', extra=(
            "<table><tr><th>Tədbir</th><th>Status</th></tr>"
            "<tr><td>Ictimai müzakirələr Sumqayıtda</td><td>icra olunub</td></tr>"
            "<tr><td>Açıq məlumat portalı</td><td>gecikir</td></tr></table>")), "utf-8"),
        "nav-only.html": ('<!DOCTYPE html><html lang="az"><head><meta charset="utf-8"><title>Menyu</title></head>'
                          "<body><nav><ul><li><a href='/a'>Haqqımızda</a></li><li><a href='/b'>Əlaqə</a></li>"
                          "</ul></nav></body></html>\n", "utf-8"),
    }
    for name, (content, encoding) in files.items():
        if encoding == "koi8-r":
            content = content.replace("–", "-")  # KOI8-R has no en dash
        (HERE / name).write_bytes(content.encode(encoding))


if __name__ == "__main__":
    main()
