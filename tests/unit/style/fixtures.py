"""Six invented authors with clearly different habits, written for these tests.

Two pairs share a style across languages (an emoji-and-hashtag Instagrammer and a chatty,
question-asking Facebook poster in English and in Russian), so ranking them right needs
more than telling the two languages apart.
"""

from __future__ import annotations

from shared.style.models import Sample

MAYA = (
    Sample(
        "instagram",
        "Sunday reset mode ON! ☀️✨\n\n"
        "Fresh flowers, clean sheets and a playlist that hits different 🌸🎶\n"
        "Honestly the little rituals are everything!!\n\n"
        "What does your perfect Sunday look like? Tell me below 👇💕\n\n"
        "#sundayreset #selfcare #slowliving #goodvibesonly",
    ),
    Sample(
        "instagram",
        "NEW drop alert!! 🚨🔥\n\n"
        "My summer glow kit is finally here and I am so proud of it 😭💛\n"
        "Three products, zero fuss, all the shine ✨✨\n\n"
        "Link in bio, babes! Good vibes only 💫\n\n"
        "#glowup #summerskin #linkinbio #goodvibesonly #selfcare",
    ),
    Sample(
        "instagram",
        "Morning matcha and a tiny dance in the kitchen 🍵💃\n\n"
        "Not every day is perfect but today feels SO right!\n"
        "Sending love to everyone who needs a little sunshine today ☀️💕\n\n"
        "Good vibes only, always 🌈\n\n"
        "#morningroutine #matchalover #goodvibesonly #positivity",
    ),
    Sample(
        "facebook",
        "Guys!! 🎉 We hit 50k on Instagram this week and I cried a little 😭💕\n\n"
        "Thank you for every comment, every DM and every silly dance video you sent me 🙈✨ "
        "You make this tiny corner of the internet feel like home!\n\n"
        "Sending love to all of you, good vibes only 💛🌸",
    ),
    Sample(
        "x",
        "Tried the new glow serum for a week and WOW my skin is thriving ✨😍 "
        "Full review is up on my page, link in bio! Who else is obsessed?? Good vibes only 💕 "
        "#skincare #goodvibesonly",
    ),
    Sample(
        "instagram",
        "Beach day therapy 🌊🐚☀️\n\n"
        "Salt in my hair, sand everywhere and zero notifications!! Pure bliss 😌💙\n"
        "Reminder: you are allowed to slow down and just breathe 🌸\n\n"
        "Sending love, babes ✨\n\n"
        "#beachday #slowliving #goodvibesonly #summervibes #selfcare",
    ),
)

HARTLEY = (
    Sample(
        "linkedin",
        "Quarterly results are published today. Revenue grew 14 percent; operating margin "
        "expanded by 210 basis points.\n\n"
        "The lesson is simple: disciplined capital allocation compounds. Organisations that "
        "prioritise fewer initiatives consistently outperform those that pursue everything.\n\n"
        "Execution beats intention.\n\n"
        "#leadership #strategy",
    ),
    Sample(
        "linkedin",
        "Three observations from this week's board meeting:\n\n"
        "1. Governance is a competitive advantage, not an administrative burden.\n"
        "2. Transparency with investors reduces the cost of capital.\n"
        "3. Succession planning deserves quarterly, not annual, attention.\n\n"
        "The lesson is simple: institutions outlast individuals.\n\n"
        "#governance #leadership",
    ),
    Sample(
        "linkedin",
        "Operational excellence is rarely glamorous. It consists of measurement, accountability "
        "and relentless standardisation.\n\n"
        "Our logistics division reduced delivery variance by 31 percent without additional "
        "headcount. The improvement came from disciplined capital allocation and rigorous "
        "process documentation.\n\n"
        "Execution beats intention.\n\n"
        "#operations",
    ),
    Sample(
        "x",
        "Strategy without measurement is aspiration. Measurement without accountability is "
        "bureaucracy. Accountability without authority is theatre. Execution beats intention.",
    ),
    Sample(
        "linkedin",
        "Acquisitions fail for predictable reasons: cultural incompatibility, optimistic "
        "synergy assumptions and insufficient integration planning.\n\n"
        "Before approving any transaction, our committee now requires an independent "
        "integration assessment. The lesson is simple: diligence is cheaper than "
        "remediation.\n\n"
        "#mergers #strategy",
    ),
    Sample(
        "linkedin",
        "Leadership appointments announced today reflect our commitment to internal "
        "development. Seventy percent of senior positions are now filled by internal "
        "candidates.\n\n"
        "Sustainable organisations cultivate talent deliberately; they do not purchase it "
        "opportunistically. Disciplined capital allocation applies to people as well.\n\n"
        "#talent #leadership",
    ),
)

SAM = (
    Sample(
        "facebook",
        "Real talk: does anyone actually enjoy meal prepping?? I spent my whole Sunday chopping "
        "veggies and now I never want to see a carrot again lol\n\n"
        "Is there a trick I'm missing? Do you cook everything at once or a bit every day?\n\n"
        "Asking for a friend (the friend is me)",
    ),
    Sample(
        "facebook",
        "Okay so my kid asked me why the sky is blue and I totally blanked. Like, I KNOW this. "
        "Something about light bouncing around?\n\n"
        "Anyone else get stumped by their kids on the simplest stuff? "
        "What was the toughest question you got?",
    ),
    Sample(
        "facebook",
        "Random thought while stuck in traffic: why do we all drive to the gym to walk on a "
        "treadmill? 😅\n\n"
        "Real talk, would you rather walk outside in the cold or stay on the treadmill "
        "watching TV? Anyone else feel weird about this?",
    ),
    Sample(
        "x",
        "Real talk: is it rude to leave a group chat that's been silent for 2 years? "
        "Asking for a friend. Anyone else have like 40 dead chats just sitting there?? "
        "How do you deal with it?",
    ),
    Sample(
        "facebook",
        "We finally adopted a dog!! His name is Biscuit and he already ate one of my shoes lol\n\n"
        "First-time dog owners, what do I need to know? Crate or no crate? "
        "How long until he stops chewing everything?\n\n"
        "Anyone else's dog obsessed with socks??",
    ),
    Sample(
        "linkedin",
        "Real talk about job hunting: how do you all stay motivated after the tenth rejection "
        "email? I keep telling myself it's a numbers game but some days it's rough.\n\n"
        "What keeps you going? Anyone else in the same boat right now?",
    ),
)

DMITRY = (
    Sample(
        "telegram",
        "Расскажу по порядку, как мы три года назад чуть не закрыли мастерскую.\n\n"
        "Всё началось с большого заказа — сорок столов для сети кофеен. Мы обрадовались, "
        "взяли предоплату и (как водится) не посчитали сроки.\n\n"
        "И вот тут начинается самое интересное. Через месяц выяснилось:\n"
        "1. Дуб нужной партии закончился у поставщика.\n"
        "2. Два столяра ушли на больничный.\n"
        "3. Заказчик решил поменять размеры столешниц.\n\n"
        "Короче говоря, мы сдали заказ с опозданием на три недели, а заработали ровно ноль. "
        "Но именно тогда я понял главное — сроки нужно считать до того, как берёшь деньги.",
    ),
    Sample(
        "telegram",
        "Вчера в поезде разговорился с попутчиком, пожилым инженером из Челябинска. "
        "Сорок лет на одном заводе — представляете?\n\n"
        "Расскажу по порядку, что он мне объяснил про работу:\n"
        "1. Хороший мастер не спешит, но и не стоит на месте.\n"
        "2. Инструмент нужно уважать — он тебя кормит.\n"
        "3. Учеников надо брать, даже когда кажется, что некогда.\n\n"
        "И вот тут начинается самое интересное: всё это он говорил спокойно, без пафоса, "
        "между делом разгадывая кроссворд. Короче говоря, лучший бизнес-тренинг за год "
        "обошёлся мне в стакан чая.",
    ),
    Sample(
        "telegram",
        "Давно обещал написать, почему мы отказались от рекламы в соцсетях.\n\n"
        "Сначала всё выглядело прекрасно: охваты росли, заявки шли. Но потом (примерно через "
        "полгода) стало понятно, что клиенты из рекламы почти никогда не возвращаются.\n\n"
        "И вот тут начинается самое интересное. Мы посчитали, откуда приходят постоянные "
        "заказчики, и оказалось — восемь из десяти по рекомендации.\n\n"
        "Короче говоря, теперь весь бюджет уходит на качество и на то, чтобы клиенту было "
        "приятно рассказать о нас друзьям.",
    ),
    Sample(
        "telegram",
        "Расскажу по порядку, как я учился делегировать (спойлер — плохо).\n\n"
        "Первые пять лет я сам резал, шлифовал, красил, вёл бухгалтерию и отвечал на звонки. "
        "Казалось, что никто не сделает лучше.\n\n"
        "Что изменилось:\n"
        "— я записал каждый процесс на бумаге;\n"
        "— нашёл двух людей, которым доверяю;\n"
        "— перестал проверять каждую мелочь.\n\n"
        "Короче говоря, мастерская выросла вдвое, а я впервые за годы съездил в отпуск.",
    ),
    Sample(
        "facebook",
        "Сегодня мастерской исполнилось семь лет. Оглядываюсь назад и понимаю, сколько всего "
        "случилось — переезды, кризисы, сорванные поставки, десятки учеников.\n\n"
        "И вот тут начинается самое интересное: из первой команды со мной до сих пор трое. "
        "Те самые, с которыми мы когда-то клеили первые табуретки в гараже у тестя.\n\n"
        "Короче говоря, спасибо всем, кто был рядом все эти годы.",
    ),
    Sample(
        "telegram",
        "Несколько выводов после выставки в Казани (писал их в блокнот прямо на стенде):\n\n"
        "1. Людям интереснее процесс, чем готовое изделие.\n"
        "2. Визитки берут все, а звонят единицы.\n"
        "3. Лучшая реклама — живая демонстрация с рубанком в руках.\n"
        "4. Цены лучше писать крупно, иначе люди стесняются спросить.\n\n"
        "Короче говоря, на следующую выставку поедем с верстаком и стружкой. "
        "Расскажу по порядку, как всё пройдёт.",
    ),
)

OLYA = (
    Sample(
        "facebook",
        "Девочки, вопрос! Как вы заставляете себя вставать на пробежку в шесть утра? 😅 "
        "Я третий день ставлю будильник и третий день его выключаю))\n\n"
        "Может, нужен какой-то секрет? Или просто смириться, что я сова?\n\n"
        "А у вас как? Признавайтесь!",
    ),
    Sample(
        "facebook",
        "Купила наконец-то мультиварку, и теперь не понимаю, как жила без неё))\n\n"
        "Но вот вопрос: что в ней готовить, кроме каши? Поделитесь рецептами, а? 🙏 "
        "Только что-нибудь простое, я не шеф-повар))\n\n"
        "А у вас как, пользуетесь или пылится на полке?",
    ),
    Sample(
        "facebook",
        "Кто-нибудь ещё смотрит сериалы в оригинале? Я начала ради английского и "
        "поняла, что понимаю процентов тридцать 🙈\n\n"
        "С субтитрами легче, но это же нечестно? Или честно? Как вы учите язык?\n\n"
        "А у вас как? Признавайтесь, сколько серий в день смотрите))",
    ),
    Sample(
        "instagram",
        "Наш кот опять спит в коробке, а не в лежанке за три тысячи 😂\n\n"
        "Почему они все так делают? Это какой-то кошачий заговор?\n\n"
        "А у вас как, коты тоже выбирают коробки? Показывайте своих в комментариях!",
    ),
    Sample(
        "facebook",
        "Всем привет! Собираемся в отпуск в сентябре и никак не можем выбрать: "
        "море или горы? 🤔\n\n"
        "Муж за горы, я за море, дети за аквапарк))\n\n"
        "Где вы отдыхали осенью и куда посоветуете? А у вас как обычно решается такой спор?",
    ),
    Sample(
        "telegram",
        "Вопрос к мамам школьников: сколько времени у вас уходит на домашку с ребёнком? "
        "У нас вчера два часа на одну математику 😩\n\n"
        "Это нормально? Или я что-то делаю не так? "
        "А у вас как? Признавайтесь честно))",
    ),
)

KATYA = (
    Sample(
        "instagram",
        "Утро начинается с кофе и хорошего настроения ☕️✨\n\n"
        "Сегодня запускаю марафон красоты — семь дней, семь простых привычек 💖\n"
        "Заряжаемся вместе!!\n\n"
        "Ссылка в профиле 🔥\n\n"
        "#марафонкрасоты #утро #привычки #всемдобра",
    ),
    Sample(
        "instagram",
        "Мой уход за кожей летом: минимум средств и максимум воды 💧🌿\n\n"
        "Никаких сложных схем! Только очищение, увлажнение и СПФ ☀️😍\n"
        "Кто со мной?\n\n"
        "Всем добра и сияющей кожи 💕\n\n"
        "#уходзакожей #лето #красота #всемдобра #бьюти",
    ),
    Sample(
        "instagram",
        "ВАУ, нас уже 20 тысяч!!! 🎉🎉😭\n\n"
        "Спасибо каждой из вас за любовь и поддержку 💖✨\n"
        "Готовлю для вас большой розыгрыш — подробности завтра!\n\n"
        "Всем добра 🌸\n\n"
        "#розыгрыш #спасибо #всемдобра #красота",
    ),
    Sample(
        "telegram",
        "Девочки, новый выпуск про утренние ритуалы уже на канале! 🎧✨\n\n"
        "Рассказываю, как за 15 минут проснуться, зарядиться и выглядеть отдохнувшей 😍💫 "
        "Заряжаемся вместе!\n\n"
        "Всем добра 💕",
    ),
    Sample(
        "instagram",
        "Осень — время уютных свитеров и новых привычек 🍂☕️\n\n"
        "Сегодня делюсь своей вечерней рутиной: маска, книга, чай и никаких гаджетов 📚🌙\n"
        "Попробуйте хотя бы неделю!!\n\n"
        "Ссылка на гайд в профиле 💖\n\n"
        "#осень #уют #вечерняярутина #всемдобра",
    ),
    Sample(
        "facebook",
        "Друзья, я наконец-то открыла онлайн-школу красоты!!! 🎉💖\n\n"
        "Первый поток стартует в понедельник, места почти закончились 😱✨ "
        "Заряжаемся знаниями и сиянием вместе!\n\n"
        "Всем добра 🌸",
    ),
)

AUTHORS: dict[str, tuple[Sample, ...]] = {
    "maya_en_instagram": MAYA,
    "hartley_en_exec": HARTLEY,
    "sam_en_questions": SAM,
    "dmitry_ru_storyteller": DMITRY,
    "olya_ru_questions": OLYA,
    "katya_ru_instagram": KATYA,
}
