"""Document text of demo products: terms, disclosure, exclusions, health notice, product brief.

The bodies are plausible Chinese clause text assembled from per-line parts; the clauses a
customer must confirm one by one are listed in `key_clauses` (exclusion, waiting period,
cooling-off, surrender loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MODE_LABELS = {"annual": "年交", "monthly": "月交", "single": "一次交清"}


def _choice_list(labels: Sequence[str]) -> str:
    return labels[0] if len(labels) == 1 else "、".join(labels[:-1]) + "或" + labels[-1]


def period_text(
    term_options: Sequence[Mapping[str, Any]],
    payment_modes: Sequence[str],
    pay_years: Mapping[str, str] | None = None,
) -> str:
    """The terms' article on the 保险期间 and the 交费期间, from the product's own term options,
    payment modes and (a product that prices one) its premium-term choices — so a policy bought
    to age 70 never reads "保险期间为10年" and every product states how long premiums are paid."""
    labels = [str(o["label"]) for o in term_options]
    if len(labels) == 1:
        term = f"本合同保险期间为{labels[0]}，以保险单载明的起讫时间为准。"
    else:
        term = f"本合同保险期间为{_choice_list(labels)}，由投保人在投保时选择，以保险单载明的起讫时间为准。"
    modes = [MODE_LABELS[m] for m in payment_modes if m in MODE_LABELS and m != "single"]
    how = f"，可选择{_choice_list(modes)}" if len(modes) > 1 else ""
    long_term = any(o.get("to_age") or (o.get("years") or 0) > 1 for o in term_options)
    if pay_years:
        premium = (
            f"本合同交费期间为{_choice_list(list(pay_years.values()))}，由投保人在投保时选择{how}，"
            "以保险单载明的交费期间为准。"
        )
    elif set(payment_modes) <= {"single"}:
        premium = "本合同保险费在投保时一次交清（趸交）。"
    elif long_term:
        premium = f"本合同交费期间与保险期间相同，保险期间内按期交纳保险费{how}，以保险单载明的交费期间为准。"
    else:
        premium = f"本合同交费期间为{labels[0]}，保险费按年计算{how}；选择月交的，分12期按月交纳。"
        if "monthly" not in payment_modes:
            premium = f"本合同交费期间为{labels[0]}，保险费在投保时一次交清。"
    return f"{term}\n{premium}"


COMMON_EXCLUSIONS: tuple[str, ...] = (
    "投保人对被保险人的故意杀害、故意伤害",
    "被保险人故意犯罪或者抗拒依法采取的刑事强制措施",
    "被保险人故意自伤，或自本合同成立或合同效力恢复之日起2年内自杀，但被保险人自杀时为无民事行为能力人的除外",
    "战争、军事冲突、暴乱或武装叛乱",
    "核爆炸、核辐射或核污染",
)

LINE_EXCLUSIONS: dict[str, tuple[str, ...]] = {
    "accident": (
        "被保险人酒后驾驶、无合法有效驾驶证驾驶，或驾驶无有效行驶证的机动车",
        "被保险人从事潜水、跳伞、攀岩、蹦极、赛车、探险等高风险运动",
        "被保险人因疾病、妊娠、流产、分娩导致的伤害",
    ),
    "travel": (
        "被保险人在战争或政局动荡地区旅行，或违反当地法律法规的行为",
        "被保险人投保前已患有的既往症及其并发症",
        "被保险人从事职业体育或高风险运动（另有约定的除外）",
    ),
    "medical": (
        "被保险人在投保前已患有且未如实告知的既往症",
        "等待期内发生的疾病及其导致的医疗费用（意外伤害除外）",
        "美容、整形、矫形、视力矫正、牙齿治疗与种植",
        "不孕不育治疗、人工受精、怀孕、分娩（含难产）、流产及其并发症",
        "非医学必需的疗养、康复治疗与健康体检",
    ),
    "critical_illness": (
        "被保险人感染艾滋病病毒或患艾滋病（因输血或职业暴露导致的除外）",
        "遗传性疾病，先天性畸形、变形或染色体异常",
        "等待期内确诊的疾病，或因等待期内出现的症状、体征导致的疾病",
    ),
    "term_life": (
        "被保险人主动吸食或注射毒品",
        "被保险人酒后驾驶、无合法有效驾驶证驾驶",
    ),
    "whole_life": (
        "被保险人主动吸食或注射毒品",
        "被保险人酒后驾驶、无合法有效驾驶证驾驶",
    ),
    "auto_compulsory": (
        "因受害人故意造成的交通事故的损失",
        "被保险人所有的财产及被保险机动车上的财产遭受的损失",
        "仲裁或者诉讼费用以及其他相关费用",
    ),
    "auto_commercial": (
        "驾驶人饮酒、吸食或注射毒品、被药物麻醉后使用被保险机动车",
        "被保险机动车被转让、改装、加装或改变使用性质且未及时通知保险人导致危险程度显著增加",
        "自然磨损、朽蚀、腐蚀、故障、本身质量缺陷",
        "车辆在竞赛、测试期间或在营业性场所维修、保养、改装期间",
    ),
    "home_property": (
        "房屋及其附属设施的正常维修、保养、自然磨损与老化",
        "地震及其次生灾害（另有约定的除外）",
        "金银、首饰、珠宝、现金、有价证券、字画古玩",
    ),
    "return_shipping": (
        "订单未发生退货，或退货物流单号无法核验",
        "同一订单重复申请理赔",
        "商家拒绝退货或非因退货产生的运费",
    ),
    "phone_screen": (
        "手机因进水、自然磨损、软件故障或厂商质量问题导致的损坏",
        "手机丢失或被盗",
        "未经授权的维修点维修或私自拆机",
    ),
    "pet": (
        "投保前已患有的疾病及先天性、遗传性疾病",
        "疫苗可预防的传染病（未按期接种疫苗的）",
        "绝育、美容、洗澡、驱虫、疫苗等预防性费用",
        "斗犬、赛犬等用于比赛或商业用途的宠物",
    ),
    "flight_delay": (
        "被保险人未实际乘坐该航班",
        "航班延误在投保时已经发生或已被通知",
        "因罢工、战争导致的延误（另有约定的除外）",
    ),
    "account_security": (
        "被保险人本人或其家属、同居人所为的盗刷",
        "被保险人主动向他人泄露密码、验证码",
        "挂失后超过约定时间的损失",
    ),
}

LONG_TERM_LINES = {"term_life", "whole_life", "critical_illness"}

# How long each key clause stays on screen before its confirmation counts (the server's clock).
CLAUSE_READ_SECONDS = 3


def _timed(clauses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**clause, "min_read_seconds": CLAUSE_READ_SECONDS} for clause in clauses]


def _numbered(items: Sequence[str]) -> str:
    return "\n".join(f"（{i}）{text}；" for i, text in enumerate(items, start=1))


def documents_for(
    *,
    line: str,
    line_label: str,
    product_name: str,
    insurer_name: str,
    coverages: Sequence[tuple[str, str]],
    waiting_days: int,
    cooling_off_days: int,
    period: str,
    health_questions: Sequence[dict[str, Any]],
    hotline: str,
) -> list[dict[str, Any]]:
    """The documents of one version, in reading order."""
    exclusions = list(COMMON_EXCLUSIONS) + list(LINE_EXCLUSIONS.get(line, ()))
    if line in {
        "auto_compulsory",
        "auto_commercial",
        "home_property",
        "return_shipping",
        "phone_screen",
        "pet",
        "flight_delay",
        "account_security",
    }:
        exclusions = [*LINE_EXCLUSIONS.get(line, ()), COMMON_EXCLUSIONS[3], COMMON_EXCLUSIONS[4]]
    long_term = line in LONG_TERM_LINES

    clauses: list[dict[str, Any]] = []
    if waiting_days:
        clauses.append(
            {
                "code": "waiting_period",
                "kind": "waiting_period",
                "title": "等待期",
                "text": (
                    f"自本合同生效之日起{waiting_days}日内为等待期。被保险人在等待期内因意外伤害以外的原因"
                    "发生保险事故的，我们不承担保险责任，无息退还已交保险费，本合同终止。续保无等待期。"
                ),
            }
        )
    if cooling_off_days:
        clauses.append(
            {
                "code": "cooling_off",
                "kind": "cooling_off",
                "title": "犹豫期",
                "text": (
                    f"自您签收本合同次日起，有{cooling_off_days}日的犹豫期。在此期间请您认真审视本合同，"
                    "如您认为本合同与您的需求不相符，您可以在此期间提出解除本合同，我们将无息退还您所交的全部保险费。"
                ),
            }
        )
    else:
        clauses.append(
            {
                "code": "no_cooling_off",
                "kind": "cooling_off",
                "title": "无犹豫期",
                "text": "本产品为短期产品，不设犹豫期。"
                "保险责任开始后申请解除合同的，按条款约定退还未满期净保险费。",
            }
        )
    if long_term:
        clauses.append(
            {
                "code": "surrender_loss",
                "kind": "surrender_loss",
                "title": "退保损失",
                "text": (
                    "犹豫期后解除合同，我们将退还本合同的现金价值。现金价值在保单前期远低于已交保险费，"
                    "提前解除合同会遭受一定损失，请慎重决定。"
                ),
            }
        )
    terms_body = "\n\n".join(
        [
            f"{insurer_name}\n{product_name}条款",
            "第一条 合同构成\n本合同由保险条款、投保单、保险单、批注、批单"
            "及与本合同有关的投保文件、声明、告知书组成。",
            "第二条 投保范围\n符合本产品投保规则的人士均可作为被保险人，由本人或其有保险利益的人作为投保人。",
            f"第三条 保险期间和交费期间\n{period}",
            "第四条 保险责任\n在本合同保险期间内，我们承担下列保险责任：\n"
            + "\n".join(f"{i}. {name}：{desc}" for i, (name, desc) in enumerate(coverages, start=1)),
            "第五条 责任免除\n因下列情形之一导致保险事故的，我们不承担保险责任：\n"
            + _numbered(exclusions[:5]),
            *(clause["title"] + "\n" + clause["text"] for clause in clauses),
            "保险金申请\n发生保险事故后，请您及时通知我们（客服电话 "
            f"{hotline}），并按约定提交理赔材料。我们在收到完整材料后5个工作日内作出核定；"
            "对属于保险责任的，在达成给付协议后10日内履行给付义务。",
            "争议处理\n本合同履行过程中发生的争议，由当事人协商解决；协商不成的，提交保险单载明的仲裁机构仲裁，"
            "未载明或达不成仲裁协议的，依法向人民法院起诉。",
        ]
    )
    exclusion_clauses = [
        {"code": f"exclusion_{i}", "kind": "exclusion", "title": f"责任免除（{i}）", "text": text}
        for i, text in enumerate(exclusions, start=1)
    ]
    disclosure_body = "\n".join(
        [
            f"投保须知 — {product_name}（{line_label}）",
            f"1. 本产品由{insurer_name}承保，汇保作为保险专业代理机构提供销售与服务。",
            "2. 请您仔细阅读保险条款，特别是责任免除、等待期、犹豫期等加粗提示的内容。",
            "3. 投保人应如实告知，未如实告知的，保险人有权解除合同，并对合同解除前发生的保险事故不承担责任。",
            "4. 保险费须在保险合同生效前支付，保险合同自保险费交付后按约定时间生效。",
            f"5. 投保、保全、理赔服务请致电{hotline}，或在汇保App“我的保单”中办理。",
            "6. 电子保单与纸质保单具有同等法律效力，投保过程将被记录以便回溯。",
        ]
    )
    documents: list[dict[str, Any]] = [
        {
            "kind": "terms",
            "title": f"{product_name}条款",
            "body": terms_body,
            "key_clauses": _timed(clauses),
            "min_read_seconds": 30 if long_term else 15,
            "sort_order": 0,
        },
        {
            "kind": "disclosure",
            "title": "投保须知",
            "body": disclosure_body,
            "key_clauses": _timed(
                [
                    {
                        "code": "truthful_disclosure",
                        "kind": "other",
                        "title": "如实告知义务",
                        "text": "投保人故意或因重大过失未履行如实告知义务，"
                        "足以影响保险人决定是否同意承保或提高保险费率的，"
                        "保险人有权解除合同。",
                    }
                ]
            ),
            "min_read_seconds": 10,
            "sort_order": 1,
        },
        {
            "kind": "exclusions",
            "title": "责任免除条款",
            "body": "因下列情形之一导致保险事故的，我们不承担给付保险金的责任：\n" + _numbered(exclusions),
            "key_clauses": _timed(exclusion_clauses),
            "min_read_seconds": 15,
            "sort_order": 2,
        },
    ]
    if health_questions:
        documents.append(
            {
                "kind": "health_notice",
                "title": "健康告知",
                "body": "被保险人是否存在以下情况（请如实回答；回答“是”的，将按核保规则转人工核保、"
                "加费或除外承保，或无法投保）：\n"
                + "\n".join(f"{i}. {q['text']}" for i, q in enumerate(health_questions, start=1)),
                "key_clauses": [],
                "min_read_seconds": 10,
                "sort_order": 3,
            }
        )
    return documents


SIMPLE_READ_SECONDS = 3


def single_document_for(
    *,
    line: str,
    product_name: str,
    insurer_name: str,
    coverages: Sequence[tuple[str, str]],
    period: str,
    hotline: str,
) -> list[dict[str, Any]]:
    """The one document of a simple short-term product (极简投保): the terms, with the notice to
    applicants and the exclusions inside, and as key clauses the exclusions, the duty of
    disclosure and the absence of a cooling-off period."""
    exclusions = [*COMMON_EXCLUSIONS[:2], *LINE_EXCLUSIONS.get(line, ())[:2]]
    body = "\n\n".join(
        [
            f"{insurer_name}\n{product_name}条款（含投保须知）",
            "投保须知\n本产品由"
            f"{insurer_name}承保，汇保作为保险专业代理机构提供销售与服务。投保人应如实告知；"
            "保险费须在合同生效前支付，合同自支付成功次日零时起生效。电子保单与纸质保单具有同等法律效力。",
            f"第一条 保险期间和交费期间\n{period}",
            "第二条 保险责任\n"
            + "\n".join(f"{i}. {name}：{desc}" for i, (name, desc) in enumerate(coverages, start=1)),
            "第三条 责任免除\n因下列情形之一导致保险事故的，我们不承担保险责任：\n" + _numbered(exclusions),
            "第四条 犹豫期\n本产品为短期产品，不设犹豫期。保险责任开始后申请解除合同的，退还未满期净保险费。",
            f"第五条 保险金申请\n发生保险事故后，请及时致电 {hotline} 或在汇保App“我的保单”中报案。",
        ]
    )
    key_clauses = [
        {
            "code": "exclusions",
            "kind": "exclusion",
            "title": "责任免除",
            "text": "因下列情形之一导致保险事故的，我们不承担保险责任：" + "；".join(exclusions) + "。",
        },
        {
            "code": "truthful_disclosure",
            "kind": "other",
            "title": "如实告知义务",
            "text": "投保人故意或因重大过失未履行如实告知义务，"
            "足以影响保险人决定是否同意承保或提高保险费率的，保险人有权解除合同。",
        },
        {
            "code": "no_cooling_off",
            "kind": "cooling_off",
            "title": "无犹豫期",
            "text": "本产品为短期产品，不设犹豫期。"
            "保险责任开始后申请解除合同的，按条款约定退还未满期净保险费。",
        },
    ]
    return [
        {
            "kind": "terms",
            "title": f"{product_name}条款",
            "body": body,
            "key_clauses": _timed(key_clauses),
            "min_read_seconds": SIMPLE_READ_SECONDS,
            "sort_order": 0,
        }
    ]
