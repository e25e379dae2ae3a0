"""The demo company, drawn from a seeded random generator: the same people, companies, products,
deals and texts on every run (only dates move with today), so that the loader can find what an
earlier run created by natural keys (e-mail, tax id, SKU, title, name). Pure Python, no I/O.

Tax ids are valid by construction: Colombian NIT with its DIAN check digit, Mexican company RFC
and Chilean RUT, each completed by python-stdnum's check-digit function."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.mx import rfc

SEED = 2026
DEMO_PASSWORD = "Demo CRM 2026 ventas"
CURRENCY = "COP"
COMPANY_ZONE = ZoneInfo("America/Bogota")

# The default pipeline "Ventas" (deals service): open stages in order, then the closed ones.
OPEN_STAGES = ("Prospección", "Calificación", "Propuesta", "Negociación")
WON, LOST = "Ganado", "Perdido"

# --- Word lists -------------------------------------------------------------------------------

FIRST_NAMES = (
    "Alejandro",
    "Andrés",
    "Camila",
    "Carlos",
    "Catalina",
    "Daniela",
    "Diego",
    "Felipe",
    "Fernanda",
    "Gabriela",
    "Héctor",
    "Isabel",
    "Jorge",
    "José",
    "Juan Pablo",
    "Juliana",
    "Laura",
    "Luis",
    "Manuela",
    "María José",
    "Mariana",
    "Martín",
    "Natalia",
    "Nicolás",
    "Paola",
    "Patricia",
    "Ricardo",
    "Rodrigo",
    "Santiago",
    "Sebastián",
    "Sofía",
    "Valentina",
    "Verónica",
    "Ximena",
)
LAST_NAMES = (
    "Álvarez",
    "Aravena",
    "Castañeda",
    "Castro",
    "Contreras",
    "Díaz",
    "Espinoza",
    "Fuentes",
    "García",
    "Gómez",
    "González",
    "Guzmán",
    "Hernández",
    "Jaramillo",
    "López",
    "Martínez",
    "Mejía",
    "Morales",
    "Muñoz",
    "Ortiz",
    "Ospina",
    "Peña",
    "Pérez",
    "Ramírez",
    "Restrepo",
    "Rojas",
    "Salazar",
    "Sánchez",
    "Soto",
    "Torres",
    "Vargas",
    "Zúñiga",
)
JOB_TITLES = (
    "Gerente general",
    "Gerente de compras",
    "Jefe de compras",
    "Director financiero",
    "Director de operaciones",
    "Coordinador de logística",
    "Jefe de mantenimiento",
    "Gerente de TI",
    "Analista de compras",
    "Director comercial",
    "Jefe de planta",
    "Coordinadora administrativa",
    "Asistente de gerencia",
    "Gerente de proyectos",
)
INDUSTRIES = (
    "Manufactura",
    "Alimentos y bebidas",
    "Construcción",
    "Retail",
    "Logística y transporte",
    "Salud",
    "Educación",
    "Agroindustria",
    "Minería",
    "Servicios financieros",
    "Tecnología",
    "Hotelería y turismo",
)
# One word each: the reporting service's segment figures (shown on canvas notes) refuse a tag with a space.
SEGMENTS = ("gran-cuenta", "pyme", "recompra", "gobierno", "exportador")
NAME_ROOTS = (
    "Andina",
    "Pacífico",
    "Cordillera",
    "Altiplano",
    "Caribe",
    "Sierra Madre",
    "Austral",
    "Los Andes",
    "Del Valle",
    "Magdalena",
    "Atacama",
    "Bajío",
    "Orinoco",
    "Patagonia",
    "Cumbre",
    "Horizonte",
    "Nogal",
    "Cóndor",
    "Araucaria",
    "Ceiba",
    "Quetzal",
    "Volcán",
    "Río Claro",
    "Sabana",
    "Llanos",
    "Altavista",
    "Puerto Sol",
    "Montebello",
    "Tequendama",
    "Maipo",
)
NAME_KINDS = {
    "Manufactura": ("Industrias", "Metalmecánica", "Plásticos", "Manufacturas"),
    "Alimentos y bebidas": ("Alimentos", "Lácteos", "Bebidas", "Panificadora"),
    "Construcción": ("Constructora", "Ingeniería", "Obras Civiles", "Concretos"),
    "Retail": ("Almacenes", "Distribuidora", "Comercializadora", "Tiendas"),
    "Logística y transporte": ("Transportes", "Logística", "Carga", "Operadora Logística"),
    "Salud": ("Clínica", "Laboratorios", "Droguerías", "Centro Médico"),
    "Educación": ("Colegio", "Instituto", "Corporación Educativa", "Academia"),
    "Agroindustria": ("Agroindustrial", "Cultivos", "Frutas", "Flores"),
    "Minería": ("Minera", "Carbones", "Agregados", "Minerales"),
    "Servicios financieros": ("Cooperativa", "Financiera", "Fondo de Empleados", "Seguros"),
    "Tecnología": ("Soluciones Digitales", "Sistemas", "Software", "Tecnologías"),
    "Hotelería y turismo": ("Hoteles", "Turismo", "Hostería", "Viajes"),
}
LEGAL_FORMS = {"CO": "S.A.S.", "MX": "S.A. de C.V.", "CL": "SpA"}
TLD = {"CO": "com.co", "MX": "com.mx", "CL": "cl"}
# City, region, share of the clients (Colombia first: the company is Colombian).
CITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "CO": (
        ("Bogotá", "Cundinamarca"),
        ("Medellín", "Antioquia"),
        ("Cali", "Valle del Cauca"),
        ("Barranquilla", "Atlántico"),
        ("Bucaramanga", "Santander"),
        ("Pereira", "Risaralda"),
        ("Cartagena", "Bolívar"),
        ("Manizales", "Caldas"),
    ),
    "MX": (
        ("Ciudad de México", "CDMX"),
        ("Guadalajara", "Jalisco"),
        ("Monterrey", "Nuevo León"),
        ("Querétaro", "Querétaro"),
        ("Puebla", "Puebla"),
        ("León", "Guanajuato"),
    ),
    "CL": (
        ("Santiago", "Región Metropolitana"),
        ("Valparaíso", "Valparaíso"),
        ("Concepción", "Biobío"),
        ("Antofagasta", "Antofagasta"),
        ("Temuco", "La Araucanía"),
    ),
}
COUNTRY_WEIGHTS = (("CO", 0.6), ("MX", 0.25), ("CL", 0.15))
STREETS = {
    "CO": ("Calle {a} # {b}-{c}", "Carrera {a} # {b}-{c}", "Avenida Calle {a} # {b}-{c}", "Transversal {a} # {b}-{c}"),
    "MX": ("Av. Insurgentes Sur {n}", "Calle Hidalgo {n}", "Av. Juárez {n}", "Blvd. Independencia {n}"),
    "CL": (
        "Av. Providencia {n}",
        "Av. Apoquindo {n}",
        "Calle Los Carrera {n}",
        "Av. Libertador Bernardo O'Higgins {n}",
    ),
}

# (SKU, name, kind, unit price in COP, IVA, unit, description)
PRODUCTS: tuple[tuple[str, str, str, int, str, str, str], ...] = (
    (
        "ERP-LIC-BAS",
        "Licencia ERP Básica (anual)",
        "service",
        4_800_000,
        "0.19",
        "licencia",
        "Contabilidad, facturación electrónica DIAN e inventarios para un usuario.",
    ),
    (
        "ERP-LIC-PRO",
        "Licencia ERP Profesional (anual)",
        "service",
        9_600_000,
        "0.19",
        "licencia",
        "Todos los módulos, multiempresa y nómina electrónica.",
    ),
    (
        "ERP-IMPL",
        "Implementación ERP",
        "service",
        18_500_000,
        "0.19",
        "proyecto",
        "Levantamiento, parametrización, migración de datos y salida en vivo.",
    ),
    (
        "CRM-LIC",
        "Licencia CRM Comercial (anual)",
        "service",
        2_400_000,
        "0.19",
        "usuario",
        "Clientes, negocios, cotizaciones e indicadores por vendedor.",
    ),
    (
        "SOP-ORO",
        "Soporte Oro 8x5",
        "service",
        1_250_000,
        "0.19",
        "mes",
        "Mesa de ayuda, tiempos de respuesta de 4 horas hábiles.",
    ),
    ("SOP-PLAT", "Soporte Platino 24x7", "service", 2_900_000, "0.19", "mes", "Atención 24x7 con ingeniero asignado."),
    (
        "CAP-USR",
        "Capacitación de usuarios",
        "service",
        850_000,
        "0",
        "sesión",
        "Sesión de 4 horas para hasta 12 personas (exenta de IVA: educación).",
    ),
    ("CONS-HORA", "Hora de consultoría", "service", 280_000, "0.19", "hora", "Consultor senior, remoto o presencial."),
    ("NUBE-HOST", "Hosting en la nube", "service", 690_000, "0.19", "mes", "Servidor administrado con copias diarias."),
    (
        "BI-TABL",
        "Tablero de indicadores BI",
        "service",
        6_200_000,
        "0.19",
        "proyecto",
        "Tablero gerencial con ventas, cartera e inventario.",
    ),
    (
        "INT-API",
        "Integración por API",
        "service",
        7_500_000,
        "0.19",
        "proyecto",
        "Conexión con e-commerce, bancos o sistemas del cliente.",
    ),
    (
        "FE-PAQ-1000",
        "Paquete facturación electrónica 1.000 documentos",
        "service",
        380_000,
        "0.19",
        "paquete",
        "Documentos electrónicos validados ante la DIAN.",
    ),
    (
        "POS-TERM",
        "Terminal punto de venta táctil",
        "product",
        3_450_000,
        "0.19",
        "unidad",
        'Pantalla táctil de 15", procesador de cuatro núcleos.',
    ),
    ("POS-IMP", "Impresora térmica de tirilla", "product", 690_000, "0.19", "unidad", "80 mm, USB y Ethernet."),
    ("POS-LECT", "Lector de código de barras", "product", 420_000, "0.19", "unidad", "Inalámbrico 2D, base de carga."),
    ("POS-CAJON", "Cajón monedero", "product", 310_000, "0.19", "unidad", "Cinco billetes, ocho monedas."),
    ("HW-PORT", 'Portátil empresarial 14"', "product", 4_200_000, "0.19", "unidad", "16 GB de RAM, SSD de 512 GB."),
    (
        "HW-ESCR",
        "Computador de escritorio",
        "product",
        3_100_000,
        "0.19",
        "unidad",
        'Torre compacta con monitor de 24".',
    ),
    ("HW-TAB", "Tableta para fuerza de ventas", "product", 1_650_000, "0.19", "unidad", '10", 4G, funda rugerizada.'),
    ("HW-SERV", "Servidor en rack", "product", 21_000_000, "0.19", "unidad", "Dos procesadores, 64 GB, RAID 10."),
    (
        "RED-SW24",
        "Switch administrable 24 puertos",
        "product",
        2_350_000,
        "0.19",
        "unidad",
        "PoE+, administración web.",
    ),
    (
        "RED-AP",
        "Punto de acceso Wi-Fi 6",
        "product",
        980_000,
        "0.19",
        "unidad",
        "Para techo, administración en la nube.",
    ),
    (
        "RED-FW",
        "Firewall de nueva generación",
        "product",
        8_900_000,
        "0.19",
        "unidad",
        "Con licencia de amenazas por un año.",
    ),
    (
        "CCTV-KIT",
        "Kit de videovigilancia 8 cámaras",
        "product",
        5_400_000,
        "0.19",
        "kit",
        "Grabador y cámaras de 4 MP.",
    ),
    ("UPS-3K", "UPS en línea 3 kVA", "product", 4_750_000, "0.19", "unidad", "Doble conversión, baterías incluidas."),
    (
        "LIC-OFI",
        "Suite ofimática (anual)",
        "service",
        520_000,
        "0.19",
        "usuario",
        "Correo, documentos y videollamadas.",
    ),
    (
        "LIC-ANTIV",
        "Antivirus corporativo (anual)",
        "service",
        145_000,
        "0.19",
        "equipo",
        "Consola central y protección de correo.",
    ),
    (
        "MANT-PREV",
        "Mantenimiento preventivo",
        "service",
        210_000,
        "0.19",
        "equipo",
        "Limpieza, diagnóstico y actualización.",
    ),
    ("CABL-PTO", "Punto de cableado estructurado", "service", 260_000, "0.19", "punto", "Categoría 6A certificado."),
    (
        "KIT-AGRO",
        "Kit de sensores para agricultura",
        "product",
        2_980_000,
        "0.05",
        "kit",
        "Humedad, temperatura y pluviómetro (IVA 5 % de maquinaria agrícola).",
    ),
)

ACTIVITY_KINDS = ("call", "meeting", "visit", "task", "email")
ACTIVITY_SUBJECTS: dict[str, tuple[str, ...]] = {
    "call": (
        "Llamada de seguimiento",
        "Llamada para confirmar requerimientos",
        "Llamada de cierre",
        "Llamada para revisar la propuesta",
        "Llamada de bienvenida",
    ),
    "meeting": (
        "Reunión de levantamiento de necesidades",
        "Demostración del producto",
        "Reunión de negociación",
        "Presentación de la propuesta",
        "Reunión con el comité de compras",
    ),
    "visit": ("Visita a planta", "Visita comercial", "Visita técnica", "Visita de relacionamiento"),
    "task": (
        "Preparar cotización",
        "Enviar contrato para firma",
        "Actualizar datos del cliente",
        "Solicitar referencias comerciales",
        "Revisar condiciones de pago",
    ),
    "email": (
        "Enviar propuesta por correo",
        "Enviar ficha técnica",
        "Correo de seguimiento",
        "Enviar caso de éxito",
        "Confirmar agenda por correo",
    ),
}
OUTCOMES: dict[str, tuple[str, ...]] = {
    "call": (
        "Interesado; pide propuesta formal",
        "No contestó; se deja mensaje",
        "Confirma presupuesto para el trimestre",
        "Pide llamar la próxima semana",
        "Decisión en comité el próximo mes",
    ),
    "meeting": (
        "Se validaron los requerimientos",
        "Demostración bien recibida por el equipo",
        "Solicitan descuento por volumen",
        "Acordamos alcance y cronograma",
        "Piden incluir capacitación",
    ),
    "visit": (
        "Recorrido por la planta; hay 3 sedes por cubrir",
        "Se conoció al equipo de TI",
        "Se tomaron medidas para el cableado",
        "Cliente satisfecho con el servicio actual",
    ),
    "task": ("Hecho", "Enviado al cliente", "Actualizado en el CRM", "Pendiente respuesta del área jurídica"),
    "email": (
        "El cliente confirmó recibido",
        "Respondió con preguntas técnicas",
        "Sin respuesta aún",
        "Reenviado al gerente",
    ),
}
LOST_REASONS = (
    "Eligió a la competencia por precio",
    "Proyecto aplazado para el próximo año",
    "Sin presupuesto aprobado",
    "No cumplimos un requisito técnico",
    "El cliente dejó de responder",
    "Compró a su proveedor habitual",
)
DISQUALIFY_REASONS = (
    "Empresa demasiado pequeña para la solución",
    "Sin presupuesto este año",
    "Datos de contacto falsos",
    "Ya es cliente de un aliado",
)
QUOTE_TERMS = "Precios en pesos colombianos. Forma de pago: 50 % anticipo, 50 % contra entrega. Garantía de 12 meses."
REJECT_REASONS = ("Precio fuera del presupuesto", "Eligieron otra propuesta", "Cambió el alcance del proyecto")


# --- The plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """Everything the loader will make sure exists. References between records are indexes or keys
    within the plan; the loader resolves them to ids."""

    today: date
    users: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    prospects: list[dict[str, Any]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    canvases: list[dict[str, Any]] = field(default_factory=list)


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def slug(text: str, sep: str = "") -> str:
    return sep.join("".join(ch for ch in word if ch.isalnum()) for word in _ascii(text).lower().split())


def colombian_nit(rng: random.Random) -> str:
    base = str(rng.randint(800_000_000, 901_999_999))
    return f"{base}-{nit.calc_check_digit(base)}"


def mexican_rfc(rng: random.Random, name: str, founded: date) -> str:
    letters = [c for c in _ascii(name).upper() if c.isalpha()]
    head = "".join([*letters, "X", "X", "X"][:3])
    body = f"{head}{founded:%y%m%d}"
    while True:  # the homoclave's first two characters are assigned by the SAT: any valid pair
        homoclave = rng.choice("123456789ABCDEFGHIJKLMNPQRSTUV") + rng.choice("123456789ABCDEFGHIJKLMNPQRSTUVWXYZ")
        number = body + homoclave + rfc.calc_check_digit(body + homoclave)
        if number[-1].isdigit() or number[-1] == "A":
            return number


def chilean_rut(rng: random.Random) -> str:
    base = str(rng.randint(76_000_000, 77_999_999))  # companies' RUTs start at 76 million
    return f"{base}-{rut.calc_check_digit(base)}"


def phone(rng: random.Random, country: str) -> str:
    """A valid mobile or landline number in E.164 (phonenumbers decides what 'valid' means)."""
    while True:
        if country == "CO":
            prefix = rng.choice(("300", "310", "311", "315", "316", "318", "320", "321"))
            text = f"+57{prefix}{rng.randint(0, 9_999_999):07d}"
        elif country == "MX":
            text = f"+52{rng.choice(('55', '33', '81'))}{rng.randint(10_000_000, 99_999_999)}"
        else:
            text = f"+569{rng.randint(10_000_000, 99_999_999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text)):
            return text


def _count(base: int, scale: float, minimum: int) -> int:
    return max(minimum, round(base * scale))


def _month_start(d: date, months_back: int) -> date:
    y, m = d.year, d.month - months_back
    while m <= 0:
        y, m = y - 1, m + 12
    while m > 12:
        y, m = y + 1, m - 12
    return date(y, m, 1)


def _local(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), COMPANY_ZONE)


def build(scale: float = 1.0, today: date | None = None, now: datetime | None = None) -> Plan:
    """The demo company at `scale` (1.0: 200 clients, 300 deals, 1,000 activities ...)."""
    now = now or datetime.now(COMPANY_ZONE)
    today = today or now.astimezone(COMPANY_ZONE).date()
    rng = random.Random(SEED)
    plan = Plan(today=today)
    _team(plan)
    reps = [u["key"] for u in plan.users if u["role"] == "rep"]
    _products(plan, scale)
    _clients(plan, rng, scale, reps)
    _contacts(plan, rng, scale)
    _campaigns(plan, rng, reps)
    _prospects(plan, rng, scale, reps)
    _deals(plan, rng, scale, reps)
    _quotes(plan, rng, scale, reps)
    _activities(plan, rng, scale, reps, now)
    _budgets(plan, reps)
    _canvases(plan)
    return plan


def _team(plan: Plan) -> None:
    domain = "comercial-andina.example"
    plan.users.append(
        {
            "key": "manager",
            "email": f"carolina.restrepo@{domain}",
            "display_name": "Carolina Restrepo",
            "role": "manager",
            "team": "",
        }
    )
    plan.teams += [
        {"key": "andina", "name": "Equipo Región Andina", "manager": "manager"},
        {"key": "internacional", "name": "Equipo Pacífico e Internacional", "manager": "manager"},
    ]
    for key, name, team in (
        ("rep1", "Andrés Gómez", "andina"),
        ("rep2", "Laura Jaramillo", "andina"),
        ("rep3", "Sebastián Ortiz", "internacional"),
        ("rep4", "Valentina Soto", "internacional"),
    ):
        plan.users.append(
            {"key": key, "email": f"{slug(name, '.')}@{domain}", "display_name": name, "role": "rep", "team": team}
        )


def _products(plan: Plan, scale: float) -> None:
    for sku, name, kind, price, tax, unit, description in PRODUCTS[: _count(len(PRODUCTS), scale, 8)]:
        plan.products.append(
            {
                "sku": sku,
                "name": name,
                "kind": kind,
                "unit_price": Decimal(price),
                "tax_rate": tax,
                "unit_of_measure": unit,
                "description": description,
            }
        )


def _country(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for country, weight in COUNTRY_WEIGHTS:
        acc += weight
        if x < acc:
            return country
    return "CO"


def _clients(plan: Plan, rng: random.Random, scale: float, reps: list[str]) -> None:
    names: set[str] = set()
    tax_ids: set[str] = set()
    n = _count(200, scale, 12)
    for i in range(n):
        country = ("CO", "MX", "CL")[i] if i < 3 else _country(rng)  # every country, even at a small scale
        industry = rng.choice(INDUSTRIES)
        while True:
            name = f"{rng.choice(NAME_KINDS[industry])} {rng.choice(NAME_ROOTS)}"
            if name not in names:
                names.add(name)
                break
        city, region = rng.choice(CITIES[country])
        founded = date(rng.randint(1975, 2020), rng.randint(1, 12), rng.randint(1, 28))
        while True:
            tax = (
                colombian_nit(rng)
                if country == "CO"
                else mexican_rfc(rng, name, founded)
                if country == "MX"
                else chilean_rut(rng)
            )
            if tax not in tax_ids:
                tax_ids.add(tax)
                break
        domain = f"{slug(name)}.example"
        street = rng.choice(STREETS[country]).format(
            a=rng.randint(1, 140), b=rng.randint(1, 99), c=rng.randint(1, 99), n=rng.randint(100, 3999)
        )
        tags = sorted({rng.choice(SEGMENTS) for _ in range(rng.randint(1, 2))})
        plan.clients.append(
            {
                "name": name,
                "legal_name": f"{name} {LEGAL_FORMS[country]}",
                "kind": "company",
                "country": country,
                "tax_id": tax,
                "industry": industry,
                "segment_tags": tags,
                "email": f"contacto@{domain}",
                "phone": phone(rng, country),
                "website": f"https://www.{domain}",
                "street": street,
                "city": city,
                "region": region,
                # Colombia is shared by all; Mexico and Chile by the international team (the first few
                # clients go round every rep, so that each has some even at a small scale).
                "owner": reps[i % len(reps)] if country == "CO" or i < len(reps) else reps[2 + i % 2],
            }
        )


def _person(rng: random.Random, used: set[str], domain: str) -> tuple[str, str, str]:
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{slug(first, '')[:12]}.{slug(last)}@{domain}"
        if email not in used:
            used.add(email)
            return first, last, email


def _contacts(plan: Plan, rng: random.Random, scale: float) -> None:
    used: set[str] = set()
    n = _count(400, scale, 2 * len(plan.clients))
    roles = ("decision_maker", "influencer", "user", "other")
    for i in range(n):
        c = i % len(plan.clients)
        client = plan.clients[c]
        first, last, email = _person(rng, used, client["email"].split("@")[1])
        plan.contacts.append(
            {
                "client": c,
                "first_name": first,
                "last_name": last,
                "job_title": rng.choice(JOB_TITLES),
                "email": email,
                "phone": phone(rng, client["country"]),
                "decision_role": roles[0] if i < len(plan.clients) else rng.choice(roles),
                "primary": i < len(plan.clients),
                "owner": client["owner"],
            }
        )


def _campaigns(plan: Plan, rng: random.Random, reps: list[str]) -> None:
    t = plan.today
    plan.campaigns += [
        {
            "key": "boletin",
            "name": "Boletín de novedades ERP",
            "type": "mailing",
            "owner": "manager",
            "launch": True,
            "budget": 1_500_000,
            "start": t - timedelta(days=20),
            "end": t + timedelta(days=40),
            "description": "Correo mensual a los contactos de clientes de recompra con las novedades del ERP.",
            "target": {"kind": "contacts", "segment_tags": ["recompra"]},
            "mailing": {
                "subject": "{{ first_name }}, novedades del ERP para {{ client_name }}",
                "html_body": "<p>Hola {{ first_name }}:</p><p>Este mes llegan la nómina electrónica y nuevos "
                'tableros de indicadores.</p><p><a href="{{ unsubscribe_url }}">Cancelar suscripción</a></p>',
                "provider": "smtp",
                "from_name": "Comercial Andina",
            },
            "spend": [(t - timedelta(days=18), 450_000, "Diseño de la pieza")],
        },
        {
            "key": "black-friday",
            "name": "Promoción fin de año POS",
            "type": "mailing",
            "owner": "manager",
            "launch": False,
            "budget": 800_000,
            "start": t + timedelta(days=10),
            "end": t + timedelta(days=45),
            "description": "Borrador: promoción de terminales POS para el comercio minorista.",
            "target": {"kind": "contacts", "industries": ["Retail"]},
            "mailing": {
                "subject": "Renueve sus cajas antes de fin de año",
                "html_body": "<p>Hola {{ first_name }}: ...</p>",
                "provider": "smtp",
            },
        },
        {
            "key": "telemercadeo",
            "name": "Telemercadeo pymes Colombia",
            "type": "telemarketing",
            "owner": "manager",
            "launch": True,
            "budget": 3_000_000,
            "start": t - timedelta(days=30),
            "end": t + timedelta(days=30),
            "description": "Llamadas a pymes colombianas para ofrecer el ERP Básico con implementación.",
            "target": {"kind": "clients", "segment_tags": ["pyme"], "country_codes": ["CO"]},
            "call_reps": reps,
            "calls": (
                "interested",
                "no_answer",
                "call_back",
                "not_interested",
                "meeting_set",
                "interested",
                "no_answer",
            ),
            "spend": [
                (t - timedelta(days=28), 1_200_000, "Bases de datos y guiones"),
                (t - timedelta(days=7), 900_000, "Horas de agentes"),
            ],
        },
        {
            "key": "google-ads",
            "name": "Google Ads: ERP para pymes",
            "type": "social_ads",
            "owner": "rep3",
            "launch": True,
            "budget": 6_000_000,
            "start": t - timedelta(days=45),
            "end": t + timedelta(days=15),
            "description": "Campaña de búsqueda con formulario de clientes potenciales en Colombia, México y Chile.",
            "leads": ("google_ads", 12),
            "spend": [
                (t - timedelta(days=40), 1_800_000, "Clics semana 1-2"),
                (t - timedelta(days=20), 2_100_000, "Clics semana 3-4"),
            ],
        },
        {
            "key": "feria",
            "name": "Feria Expo Empresarial Bogotá",
            "type": "trade_fair",
            "owner": "rep1",
            "launch": True,
            "complete": True,
            "budget": 12_000_000,
            "start": t - timedelta(days=90),
            "end": None,
            "description": "Stand de 18 m² en Corferias; leads capturados con el escáner de credenciales.",
            "leads": ("trade_fair", 15),
            "spend": [
                (t - timedelta(days=95), 7_500_000, "Alquiler del stand"),
                (t - timedelta(days=91), 2_300_000, "Material POP"),
            ],
        },
        {
            "key": "linkedin",
            "name": "Anuncios LinkedIn Chile",
            "type": "social_ads",
            "owner": "rep4",
            "launch": False,
            "budget": 2_500_000,
            "start": t + timedelta(days=20),
            "end": t + timedelta(days=80),
            "description": "Borrador: anuncios patrocinados para gerentes financieros en Santiago.",
        },
    ]
    lead_names: set[str] = set()
    for c in plan.campaigns:
        source_count = c.get("leads")
        if not source_count:
            continue
        source, count = source_count
        leads = []
        for j in range(count):
            country = "CO" if source == "trade_fair" else _country(rng)
            first, last, _ = _person(rng, lead_names, "x")
            company = f"{rng.choice(NAME_KINDS[rng.choice(INDUSTRIES)])} {rng.choice(NAME_ROOTS)}"
            leads.append(
                {
                    "company_name": company,
                    "first_name": first,
                    "last_name": last,
                    "job_title": rng.choice(JOB_TITLES),
                    "email": f"{slug(first)[:12]}.{slug(last)}@{slug(company)}.example",
                    "phone": phone(rng, country),
                    "city": rng.choice(CITIES[country])[0],
                    "country_code": country,
                    "source": source,
                    "external_id": f"{c['key']}-{j + 1:03d}",
                    "notes": "Visitó el stand y pidió demostración"
                    if source == "trade_fair"
                    else "Formulario de anuncio",
                }
            )
        c["lead_list"] = leads


def _prospects(plan: Plan, rng: random.Random, scale: float, reps: list[str]) -> None:
    used: set[str] = {c["email"] for c in plan.contacts}
    statuses = ("new", "contacted", "qualified", "converted", "disqualified")
    sources = ("web", "referral", "campaign", "trade_fair", "ads", "rd_station", "import")
    source_campaign = {
        "campaign": "telemercadeo",
        "trade_fair": "feria",
        "ads": "google-ads",
        "rd_station": "google-ads",
    }
    n = _count(150, scale, len(sources))
    for i in range(n):
        country = _country(rng)
        industry = rng.choice(INDUSTRIES)
        suffix = rng.choice(("Ltda.", "S.A.S.", "y Cía.", "Group"))
        company = f"{rng.choice(NAME_KINDS[industry])} {rng.choice(NAME_ROOTS)} {suffix}"
        first, last, email = _person(rng, used, f"{slug(company)}.example")
        city, region = rng.choice(CITIES[country])
        status = statuses[i % len(statuses)] if i < len(statuses) else rng.choices(statuses, (35, 25, 15, 10, 15))[0]
        source = sources[i % len(sources)]
        founded = date(rng.randint(1990, 2022), rng.randint(1, 12), rng.randint(1, 28))
        tax = (
            colombian_nit(rng)
            if country == "CO"
            else mexican_rfc(rng, company, founded)
            if country == "MX"
            else chilean_rut(rng)
        )
        plan.prospects.append(
            {
                "key": email,
                "company_name": company,
                "first_name": first,
                "last_name": last,
                "job_title": rng.choice(JOB_TITLES),
                "email": email,
                "phone": phone(rng, country),
                "tax_country": country,
                "tax_id": tax,
                "industry": industry,
                "city": city,
                "region": region,
                "country": country,
                "source": source,
                "campaign": source_campaign.get(source, ""),
                "status": status,
                "disqualified_reason": rng.choice(DISQUALIFY_REASONS) if status == "disqualified" else "",
                "owner": reps[i % len(reps)],
            }
        )


def _deals(plan: Plan, rng: random.Random, scale: float, reps: list[str]) -> None:
    """Open deals in every open stage (some closing this month for each rep), won deals with close
    dates spread over the last 12 months, lost deals with reasons."""
    titles: set[str] = set()
    n = _count(300, scale, 2 * len(reps) + 6)
    month_end = _month_start(plan.today, -1) - timedelta(days=1)
    contacts_of: dict[int, list[int]] = {}
    for k, contact in enumerate(plan.contacts):
        contacts_of.setdefault(contact["client"], []).append(k)
    for i in range(n):
        client_index = rng.randrange(len(plan.clients))
        client = plan.clients[client_index]
        owner = client["owner"]
        if i < 2 * len(reps):  # every rep has open deals in negotiation closing this month
            owner = reps[i % len(reps)]
            client_index = next(k for k, c in enumerate(plan.clients) if c["owner"] == owner)
            client = plan.clients[client_index]
            outcome, stage = "open", OPEN_STAGES[2 + i // len(reps) % 2]
            close = rng.choice(
                [d for d in (plan.today + timedelta(days=x) for x in range(0, 31)) if d <= month_end] or [plan.today]
            )
        else:
            j = i - 2 * len(reps)  # the next six go through every stage, even at a small scale
            stage = (
                (*OPEN_STAGES, WON, LOST)[j]
                if j < 6
                else rng.choices((*OPEN_STAGES, WON, LOST), (12, 12, 11, 10, 35, 20))[0]
            )
            outcome = "won" if stage == WON else "lost" if stage == LOST else "open"
            if outcome == "open":
                close = plan.today + timedelta(days=rng.randint(-10, 150))
            else:
                close = plan.today - timedelta(days=rng.randint(0, 364))
        picks = rng.sample(plan.products, rng.randint(1, 3))
        lines = [(p["sku"], rng.choice((1, 1, 2, 3, 5, 10, 12, 20))) for p in picks]
        amount = sum(next(p["unit_price"] for p in plan.products if p["sku"] == sku) * q for sku, q in lines)
        main = next(p["name"] for p in plan.products if p["sku"] == lines[0][0]).split(" (")[0]
        title = f"{main} — {client['name']}"
        k = 2
        while title in titles:
            title, k = f"{main} — {client['name']} ({k})", k + 1
        titles.add(title)
        plan.deals.append(
            {
                "title": title,
                "client": client_index,
                "contacts": contacts_of.get(client_index, [])[:2],
                "lines": lines,
                "amount": Decimal(amount).quantize(Decimal(1)),
                "owner": owner,
                "stage": stage,
                "status": outcome,
                "lost_reason": rng.choice(LOST_REASONS) if outcome == "lost" else "",
                "expected_close_date": close,
                "campaign": "telemercadeo" if i % 17 == 5 else "",
            }
        )


def _quotes(plan: Plan, rng: random.Random, scale: float, reps: list[str]) -> None:
    """Quotes in every status, on deals whose state agrees: accepted ones on won deals, sent ones
    (waiting for the client) on open deals in Propuesta or Negociación, at least one per rep."""
    n = _count(60, scale, len(reps) + 4)
    by_status = {"accepted": [], "rejected": [], "sent": [], "draft": []}  # type: dict[str, list[int]]
    for d, deal in enumerate(plan.deals):
        if deal["status"] == "won":
            by_status["accepted"].append(d)
        elif deal["status"] == "lost":
            by_status["rejected"].append(d)
        elif deal["stage"] in OPEN_STAGES[2:]:
            by_status["sent"].append(d)
        else:
            by_status["draft"].append(d)
    chosen: list[tuple[int, str]] = []
    for rep in reps:  # a quote waiting in every rep's tray
        waiting = next((d for d in by_status["sent"] if plan.deals[d]["owner"] == rep), None)
        if waiting is not None:
            by_status["sent"].remove(waiting)
            chosen.append((waiting, "sent"))
    order = ("accepted", "rejected", "draft", "sent")
    k = 0
    while len(chosen) < n and any(by_status.values()):
        status = order[k % 4]
        k += 1
        if by_status[status]:
            chosen.append((by_status[status].pop(0), status))
    for d, status in chosen:
        deal = plan.deals[d]
        plan.quotes.append(
            {
                "deal": d,
                "status": status,
                "owner": deal["owner"],
                # Each line's discount rate, a fraction as the API takes it ("0.05" is 5 %).
                "lines": [(sku, q, rng.choice(("0", "0", "0.05", "0.1"))) for sku, q in deal["lines"]],
                "reject_reason": rng.choice(REJECT_REASONS) if status == "rejected" else "",
                "valid_until": plan.today + timedelta(days=rng.randint(10, 30)),
            }
        )


def _activities(plan: Plan, rng: random.Random, scale: float, reps: list[str], now: datetime) -> None:
    """Done in the past with outcomes; for each rep some due today, some overdue, some upcoming."""
    n = _count(1000, scale, 6 * len(reps) + 10)
    keys: set[tuple[str, str, str, int]] = set()
    deals_of = {rep: [d for d, deal in enumerate(plan.deals) if deal["owner"] == rep] for rep in reps}
    open_deals_of = {rep: [d for d in deals_of[rep] if plan.deals[d]["status"] == "open"] for rep in reps}
    clients_of = {rep: [c for c, client in enumerate(plan.clients) if client["owner"] == rep] for rep in reps}
    prospects_of = {
        rep: [
            p
            for p, pr in enumerate(plan.prospects)
            if pr["owner"] == rep and pr["status"] in ("new", "contacted", "qualified")
        ]
        for rep in reps
    }
    local_now = now.astimezone(COMPANY_ZONE)
    for i in range(n):
        rep = reps[i % len(reps)]
        forced = i // len(reps)
        # The first rounds give every rep two activities due today, two overdue and two upcoming.
        when = (
            ("today", "today", "overdue", "overdue", "upcoming", "upcoming")[forced]
            if forced < 6
            else rng.choices(("done", "overdue", "today", "upcoming"), (70, 8, 4, 18))[0]
        )
        kind = rng.choice(ACTIVITY_KINDS)
        target_kind = rng.choices(("deal", "client", "prospect"), (60, 30, 10))[0]
        pool = {
            "deal": open_deals_of[rep] if when != "done" else deals_of[rep],
            "client": clients_of[rep],
            "prospect": prospects_of[rep],
        }[target_kind]
        if not pool:
            target_kind, pool = "client", clients_of[rep] or [0]
        for _attempt in range(20):
            target = rng.choice(pool)
            subject = rng.choice(ACTIVITY_SUBJECTS[kind])
            if (kind, subject, target_kind, target) not in keys:
                break
        else:
            subject = f"{subject} ({i})"
        keys.add((kind, subject, target_kind, target))
        if when == "today":
            hour = (9, 11, 15, 17)[rng.randrange(4)] if forced != 1 else min(max(local_now.hour + 1, 8), 23)
            due = _local(plan.today, hour, rng.choice((0, 30)) if hour < 23 else 30)
        elif when == "overdue":
            due = _local(plan.today - timedelta(days=rng.randint(1, 12)), rng.randint(8, 17))
        elif when == "upcoming":
            due = _local(plan.today + timedelta(days=rng.randint(1, 21)), rng.randint(8, 17), rng.choice((0, 30)))
        else:
            due = _local(
                plan.today - timedelta(days=rng.randint(1, 365)), rng.randint(8, 17), rng.choice((0, 15, 30, 45))
            )
        activity = {
            "kind": kind,
            "subject": subject,
            "target_kind": target_kind,
            "target": target,
            "owner": rep,
            "notes": "",
            "due_time": due,
            "duration_seconds": {"call": 900, "meeting": 3600, "visit": 5400}.get(kind, 0),
            "status": "done" if when == "done" else "scheduled",
        }
        if when == "done":
            activity["done_time"] = due + timedelta(minutes=rng.randint(0, 90))
            activity["outcome"] = rng.choice(OUTCOMES[kind])
        plan.activities.append(activity)


def _budgets(plan: Plan, reps: list[str]) -> None:
    for r, rep in enumerate(reps):
        for month in range(1, 13):
            target = 90_000_000 + 15_000_000 * r + (25_000_000 if month in (6, 11, 12) else 0)
            plan.budgets.append({"owner": rep, "period_start": date(plan.today.year, month, 1), "amount": target})


def _canvases(plan: Plan) -> None:
    skus = [p["sku"] for p in plan.products]
    plan.canvases += [
        {
            "name": "Modelo de negocio 2027 — Software de gestión",
            "owner": "manager",
            "status": "active",
            "description": "Cómo crecemos con ERP y CRM en pymes de Colombia, México y Chile.",
            "notes": [
                ("key_partners", "Proveedores de facturación electrónica autorizados por la DIAN y el SAT", []),
                ("key_activities", "Implementación y capacitación en sitio", []),
                ("key_resources", "Consultores certificados en Bogotá, Medellín y Ciudad de México", []),
                (
                    "value_propositions",
                    "ERP listo para la facturación electrónica en menos de 30 días",
                    [("product", s) for s in ("ERP-LIC-BAS", "ERP-IMPL") if s in skus],
                ),
                (
                    "value_propositions",
                    "Indicadores de ventas en tiempo real para el gerente",
                    [("product", s) for s in ("CRM-LIC", "BI-TABL") if s in skus],
                ),
                ("customer_relationships", "Ejecutivo de cuenta asignado y soporte 24x7 para grandes cuentas", []),
                (
                    "channels",
                    "Telemercadeo a pymes y anuncios de búsqueda",
                    [("campaign", "telemercadeo"), ("campaign", "google-ads")],
                ),
                ("channels", "Ferias empresariales", [("campaign", "feria")]),
                ("customer_segments", "Pymes colombianas en crecimiento", [("client_segment", "pyme")]),
                ("customer_segments", "Grandes cuentas con varias sedes", [("client_segment", "gran-cuenta")]),
                ("cost_structure", "Nómina de consultores, licencias de terceros, nube", []),
                (
                    "revenue_streams",
                    "Suscripciones anuales y soporte mensual",
                    [("product", s) for s in ("SOP-ORO", "SOP-PLAT") if s in skus],
                ),
            ],
        },
        {
            "name": "Canvas línea de hardware y punto de venta",
            "owner": "rep1",
            "status": "draft",
            "description": "Borrador para decidir si seguimos vendiendo hardware o solo servicios.",
            "notes": [
                (
                    "value_propositions",
                    "Punto de venta completo, instalado y con soporte",
                    [("product", s) for s in ("POS-TERM", "POS-IMP") if s in skus],
                ),
                ("customer_segments", "Comercio minorista y clientes de recompra", [("client_segment", "recompra")]),
                ("channels", "Correo a clientes actuales", [("campaign", "boletin")]),
                ("key_partners", "Mayoristas de hardware con crédito a 60 días", []),
                ("cost_structure", "Inventario, garantías y transporte", []),
                (
                    "revenue_streams",
                    "Venta de equipos y mantenimiento preventivo",
                    [("product", s) for s in ("MANT-PREV",) if s in skus],
                ),
            ],
        },
    ]
