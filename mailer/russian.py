"""Russian nouns where Django and unfold build sentences out of a model's verbose name:
«Удалить кампанию» (not «Удалить кампания»), «5 получателей» (not «5 получатели»), «Добавить
ещё одно вложение» (not «Добавить еще один Вложение»).

One row a noun: the forms after 1, 2–4 and 5+ (nominative, genitive singular, genitive
plural), the accusative, and the gender. A noun not in the table keeps the old wording.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    one: str  # 1 кампания
    few: str  # 2 кампании
    many: str  # 5 кампаний
    accusative: str  # удалить кампанию
    gender: str  # "m", "f" or "n"


NOUNS = {
    noun.one: noun
    for noun in (
        Noun("кампания", "кампании", "кампаний", "кампанию", "f"),
        Noun("компания", "компании", "компаний", "компанию", "f"),
        Noun("контакт", "контакта", "контактов", "контакт", "m"),
        Noun("уведомление", "уведомления", "уведомлений", "уведомление", "n"),
        Noun("вложение", "вложения", "вложений", "вложение", "n"),
        Noun("получатель", "получателя", "получателей", "получателя", "m"),
        Noun("отписка", "отписки", "отписок", "отписку", "f"),
        Noun(
            "запись журнала отправки",
            "записи журнала отправки",
            "записей журнала отправки",
            "запись журнала отправки",
            "f",
        ),
        Noun("очередь кампании", "очереди кампаний", "очередей кампаний", "очередь кампании", "f"),
        Noun("почтовый аккаунт", "почтовых аккаунта", "почтовых аккаунтов", "почтовый аккаунт", "m"),
        Noun("пользователь", "пользователя", "пользователей", "пользователя", "m"),
        Noun("группа", "группы", "групп", "группу", "f"),
    )
}
ONE_MORE = {"m": "ещё один", "f": "ещё одну", "n": "ещё одно"}
ONE_MORE_ANIMATE = {"получатель": "ещё одного", "пользователь": "ещё одного"}


def counted(number: int, verbose_name: str) -> str:
    """«1 кампания», «3 кампании», «11 кампаний», «21 кампания»."""
    noun = NOUNS.get(str(verbose_name))
    if noun is None:
        return f"{number} {verbose_name}"
    tens, units = number % 100, number % 10
    if units == 1 and tens != 11:
        form = noun.one
    elif 2 <= units <= 4 and not 12 <= tens <= 14:
        form = noun.few
    else:
        form = noun.many
    return f"{number} {form}"


def accusative(verbose_name: str) -> str:
    noun = NOUNS.get(str(verbose_name))
    return noun.accusative if noun else str(verbose_name)


def add_another(verbose_name: str) -> str:
    """The inline's «Добавить ещё одно вложение»."""
    noun = NOUNS.get(str(verbose_name))
    if noun is None:
        return f"Добавить: {verbose_name}"
    return f"Добавить {ONE_MORE_ANIMATE.get(noun.one, ONE_MORE[noun.gender])} {noun.accusative}"
