import json
L = {
 "Paris": ["Eiffel Tower", "Louvre", "Notre-Dame de Paris", "Arc de Triomphe"],
 "London": ["Big Ben", "Tower Bridge", "Buckingham Palace", "British Museum"],
 "Rome": ["Colosseum", "Trevi Fountain", "Pantheon"],
 "New York": ["Statue of Liberty", "Empire State Building", "Central Park", "Times Square"],
 "Sydney": ["Sydney Opera House", "Sydney Harbour Bridge"],
 "Moscow": ["Red Square", "Kremlin", "Saint Basil's Cathedral"],
 "Beijing": ["Forbidden City", "Tiananmen Square", "Temple of Heaven"],
 "Agra": ["Taj Mahal"],
 "Barcelona": ["Sagrada Familia", "Park Guell"],
 "Berlin": ["Brandenburg Gate", "Reichstag building"],
 "Athens": ["Acropolis", "Parthenon"],
 "Rio de Janeiro": ["Christ the Redeemer", "Copacabana beach"],
 "San Francisco": ["Golden Gate Bridge", "Alcatraz"],
 "Istanbul": ["Hagia Sophia", "Blue Mosque"],
 "Amsterdam": ["Rijksmuseum", "Anne Frank House"],
 "Venice": ["Rialto Bridge", "St Mark's Basilica"],
 "Tokyo": ["Senso-ji temple", "Shibuya Crossing"],
 "Dubai": ["Burj Khalifa", "Palm Jumeirah"],
 "Washington": ["White House", "Lincoln Memorial", "Washington Monument"],
 "Seattle": ["Space Needle"],
 "Toronto": ["CN Tower"],
 "Kuala Lumpur": ["Petronas Towers"],
 "Singapore": ["Marina Bay Sands", "Merlion"],
 "Prague": ["Charles Bridge"],
 "Vienna": ["Schonbrunn Palace"],
 "Kyoto": ["Kinkaku-ji", "Fushimi Inari shrine"],
 "Lisbon": ["Belem Tower"],
 "Madrid": ["Prado Museum"],
 "Florence": ["Uffizi Gallery", "Ponte Vecchio"],
}
ALIASES = {
 "Eiffel Tower": ["Tour Eiffel"], "Louvre": ["Louvre Museum"], "Big Ben": ["Elizabeth Tower"],
 "Colosseum": ["Coliseum"], "Statue of Liberty": ["Lady Liberty"], "Kremlin": ["Moscow Kremlin"],
 "Forbidden City": ["Palace Museum"], "Sagrada Familia": ["Basilica of the Sagrada Familia"],
 "Christ the Redeemer": ["Cristo Redentor"], "Hagia Sophia": ["Ayasofya"], "Blue Mosque": ["Sultan Ahmed Mosque"],
 "Kinkaku-ji": ["Golden Pavilion"], "Burj Khalifa": ["Burj Dubai"], "White House": ["Executive Mansion"],
 "Taj Mahal": [], "Petronas Towers": ["Petronas Twin Towers"],
}
CITY = {
 "Paris": "France", "London": "United Kingdom", "Rome": "Italy", "New York": "United States",
 "Sydney": "Australia", "Moscow": "Russia", "Beijing": "China", "Agra": "India", "Barcelona": "Spain",
 "Berlin": "Germany", "Athens": "Greece", "Rio de Janeiro": "Brazil", "San Francisco": "United States",
 "Istanbul": "Turkey", "Amsterdam": "Netherlands", "Venice": "Italy", "Tokyo": "Japan",
 "Dubai": "United Arab Emirates", "Washington": "United States", "Seattle": "United States",
 "Toronto": "Canada", "Kuala Lumpur": "Malaysia", "Singapore": "Singapore", "Prague": "Czech Republic",
 "Vienna": "Austria", "Kyoto": "Japan", "Lisbon": "Portugal", "Madrid": "Spain", "Florence": "Italy",
 "Osaka": "Japan", "Munich": "Germany", "Milan": "Italy", "Lyon": "France", "Manchester": "United Kingdom",
 "Chicago": "United States", "Los Angeles": "United States", "Melbourne": "Australia", "Vancouver": "Canada",
 "Montreal": "Canada", "Shanghai": "China", "Mumbai": "India", "Bangalore": "India",
 "Saint Petersburg": "Russia", "Sao Paulo": "Brazil", "Buenos Aires": "Argentina", "Mexico City": "Mexico",
 "Cairo": "Egypt", "Cape Town": "South Africa", "Nairobi": "Kenya", "Seoul": "South Korea",
 "Bangkok": "Thailand", "Hanoi": "Vietnam", "Jakarta": "Indonesia", "Stockholm": "Sweden", "Oslo": "Norway",
 "Copenhagen": "Denmark", "Helsinki": "Finland", "Dublin": "Ireland", "Zurich": "Switzerland",
 "Brussels": "Belgium", "Warsaw": "Poland", "Lagos": "Nigeria", "Lima": "Peru", "Havana": "Cuba",
 "Auckland": "New Zealand",
}
CAPITAL = {
 "France": "Paris", "United Kingdom": "London", "Italy": "Rome", "Germany": "Berlin", "Spain": "Madrid",
 "Russia": "Moscow", "China": "Beijing", "Japan": "Tokyo", "Greece": "Athens", "Austria": "Vienna",
 "Czech Republic": "Prague", "Portugal": "Lisbon", "Netherlands": "Amsterdam", "Egypt": "Cairo",
 "Sweden": "Stockholm", "Norway": "Oslo", "Denmark": "Copenhagen", "Finland": "Helsinki", "Ireland": "Dublin",
 "Belgium": "Brussels", "Poland": "Warsaw", "South Korea": "Seoul", "Thailand": "Bangkok", "Vietnam": "Hanoi",
 "Indonesia": "Jakarta", "Kenya": "Nairobi", "Argentina": "Buenos Aires", "Mexico": "Mexico City",
 "Peru": "Lima", "Cuba": "Havana", "Australia": "Canberra", "Canada": "Ottawa",
 "United States": "Washington", "India": "New Delhi", "Brazil": "Brasilia", "Turkey": "Ankara",
 "Switzerland": "Bern", "Nigeria": "Abuja", "South Africa": "Pretoria", "New Zealand": "Wellington",
 "Malaysia": "Kuala Lumpur", "United Arab Emirates": "Abu Dhabi",
}
COMPANY = {
 "Japan": ["Toyota", "Honda", "Sony", "Nintendo", "Panasonic"],
 "South Korea": ["Samsung", "Hyundai", "LG Electronics"],
 "Germany": ["Volkswagen", "BMW", "Siemens", "Adidas", "Bayer", "SAP"],
 "Switzerland": ["Nestle", "Rolex", "Novartis"],
 "Sweden": ["Ikea", "Volvo", "Spotify", "Ericsson"],
 "Finland": ["Nokia"], "Denmark": ["Lego", "Maersk"], "Netherlands": ["Philips", "Heineken"],
 "Italy": ["Ferrari", "Fiat", "Gucci", "Prada"],
 "France": ["Renault", "Peugeot", "L'Oreal", "Louis Vuitton", "Michelin"],
 "United States": ["Apple", "Microsoft", "Google", "Boeing", "Coca-Cola", "Ford"],
 "India": ["Tata Motors", "Infosys"], "China": ["Alibaba", "Huawei", "Tencent"],
 "Brazil": ["Petrobras", "Embraer"], "United Kingdom": ["BP", "Rolls-Royce"],
 "Spain": ["Zara", "Telefonica"], "Russia": ["Gazprom"],
}
CO_ALIASES = {"Volkswagen": ["VW"], "Coca-Cola": ["Coke"], "Google": ["Alphabet"], "Nestle": ["Nestle S.A."],
 "Louis Vuitton": ["LVMH"], "Samsung": ["Samsung Electronics"], "Toyota": ["Toyota Motor"], "BMW": ["Bayerische Motoren Werke"]}
LANG = {
 "French": "France", "German": "Germany", "Italian": "Italy", "Spanish": "Spain", "Portuguese": "Portugal",
 "Dutch": "Netherlands", "Swedish": "Sweden", "Norwegian": "Norway", "Danish": "Denmark", "Finnish": "Finland",
 "Polish": "Poland", "Czech": "Czech Republic", "Greek": "Greece", "Turkish": "Turkey", "Russian": "Russia",
 "Japanese": "Japan", "Korean": "South Korea", "Mandarin": "China", "Thai": "Thailand", "Vietnamese": "Vietnam",
 "Hindi": "India", "Indonesian": "Indonesia", "Swahili": "Kenya", "Hungarian": "Hungary", "Romanian": "Romania",
 "Ukrainian": "Ukraine", "Hebrew": "Israel", "Persian": "Iran", "Irish": "Ireland", "Icelandic": "Iceland",
 "Tagalog": "Philippines", "Malay": "Malaysia", "Bengali": "Bangladesh", "Afrikaans": "South Africa",
 "Amharic": "Ethiopia",
}
AUTHOR = {
 "Russian": ["Leo Tolstoy", "Fyodor Dostoevsky", "Alexander Pushkin", "Anton Chekhov"],
 "German": ["Johann Wolfgang von Goethe", "Franz Kafka", "Thomas Mann", "Friedrich Schiller"],
 "French": ["Victor Hugo", "Moliere", "Gustave Flaubert", "Marcel Proust", "Honore de Balzac"],
 "Spanish": ["Miguel de Cervantes", "Gabriel Garcia Marquez", "Jorge Luis Borges", "Pablo Neruda"],
 "Italian": ["Dante Alighieri", "Petrarch", "Umberto Eco", "Giovanni Boccaccio"],
 "English": ["William Shakespeare", "Charles Dickens", "Jane Austen", "Mark Twain"],
 "Portuguese": ["Luis de Camoes", "Jose Saramago", "Fernando Pessoa"],
 "Japanese": ["Haruki Murakami", "Yukio Mishima", "Yasunari Kawabata"],
 "Greek": ["Homer"], "Norwegian": ["Henrik Ibsen"], "Swedish": ["August Strindberg", "Astrid Lindgren"],
 "Danish": ["Hans Christian Andersen"], "Mandarin": ["Lu Xun"], "Bengali": ["Rabindranath Tagore"],
 "Polish": ["Henryk Sienkiewicz", "Wislawa Szymborska"], "Latin": ["Cicero", "Virgil"],
}
AU_ALIASES = {"Leo Tolstoy": ["Tolstoy"], "Fyodor Dostoevsky": ["Dostoevsky"], "William Shakespeare": ["Shakespeare"],
 "Johann Wolfgang von Goethe": ["Goethe"], "Miguel de Cervantes": ["Cervantes"], "Dante Alighieri": ["Dante"],
 "Victor Hugo": ["Hugo"], "Charles Dickens": ["Dickens"], "Haruki Murakami": ["Murakami"], "Franz Kafka": ["Kafka"]}
DISH = {
 "Japan": ["sushi", "ramen", "tempura"], "Italy": ["pizza", "lasagna", "risotto"],
 "Spain": ["paella", "gazpacho", "tapas"], "France": ["croissant", "ratatouille", "crepe"],
 "South Korea": ["kimchi", "bibimbap"], "Thailand": ["pad thai", "tom yum"], "Vietnam": ["pho"],
 "Mexico": ["tacos", "enchiladas", "guacamole"], "Germany": ["sauerkraut", "bratwurst"],
 "Hungary": ["goulash"], "Ukraine": ["borscht"], "Greece": ["moussaka", "souvlaki"], "Turkey": ["baklava"],
 "China": ["dim sum", "Peking duck"], "India": ["biryani", "samosa"], "United Kingdom": ["fish and chips"],
 "Canada": ["poutine"], "Brazil": ["feijoada"], "Peru": ["ceviche"], "Poland": ["pierogi"],
 "Denmark": ["smorrebrod"],
}
CONTINENT = {}
for c in ["France","United Kingdom","Italy","Germany","Spain","Russia","Greece","Austria","Czech Republic","Portugal",
          "Netherlands","Sweden","Norway","Denmark","Finland","Ireland","Belgium","Poland","Switzerland","Hungary",
          "Romania","Ukraine","Iceland","Turkey"]: CONTINENT[c]="Europe"
for c in ["China","Japan","South Korea","Thailand","Vietnam","Indonesia","India","Malaysia","Singapore",
          "United Arab Emirates","Israel","Iran","Philippines","Bangladesh"]: CONTINENT[c]="Asia"
for c in ["Egypt","Kenya","Nigeria","South Africa","Ethiopia"]: CONTINENT[c]="Africa"
for c in ["United States","Canada","Mexico","Cuba"]: CONTINENT[c]="North America"
for c in ["Brazil","Argentina","Peru"]: CONTINENT[c]="South America"
for c in ["Australia","New Zealand"]: CONTINENT[c]="Oceania"

facts=[]
def add(rel, subj, obj, aliases=()):
    facts.append({"relation": rel, "subject": subj, "aliases": list(aliases), "object": obj})
for city, ls in L.items():
    for l in ls: add("landmark-city", l, city, ALIASES.get(l, []))
for city, c in CITY.items(): add("city-country", city, c)
for c, cap in CAPITAL.items(): add("country-capital", c, cap)
for c, cos in COMPANY.items():
    for co in cos: add("company-country", co, c, CO_ALIASES.get(co, []))
for lang, c in LANG.items(): add("language-country", lang, c)
for lang, aus in AUTHOR.items():
    for a in aus: add("author-language", a, lang, AU_ALIASES.get(a, []))
for c, ds in DISH.items():
    for d in ds: add("dish-country", d, c)
for c, k in CONTINENT.items(): add("country-continent", c, k)
# every country-valued object must have a continent (the coarse level)
for f in facts:
    if f["relation"] in ("city-country","company-country","language-country","dish-country"):
        assert f["object"] in CONTINENT, f
    if f["relation"]=="landmark-city": assert f["object"] in CITY, f
import collections
print(len(facts), collections.Counter(f["relation"] for f in facts))
keys=[(f["relation"],f["subject"]) for f in facts]; assert len(keys)==len(set(keys))
with open("facts.jsonl","w") as o:
    for f in facts: o.write(json.dumps(f, ensure_ascii=True)+"\n")
