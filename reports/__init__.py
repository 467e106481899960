"""分析研判: the periodic analysis report for the commission's leaders (figures, PDF, XLSX, HTML)."""
