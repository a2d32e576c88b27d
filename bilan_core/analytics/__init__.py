"""Analytics: the dashboard figures, stats and trust arithmetic, charts, and exports.

May import: the base modules and ``store``. Figures are DataFrames; charts take DataFrames and
return Altair charts; nothing here touches Streamlit.
"""
