//! The topic model and what is shown of it: its parameters, topics, assignments, listings.

use serde::{Deserialize, Serialize};

use crate::paper::Paper;

/// How a topic model is fitted; saved with the model as a record of how it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicParams {
    /// Target number of topics; by default about sqrt(papers / 15).
    pub topics: Option<usize>,
    /// Topics smaller than this are dissolved into their nearest neighbours.
    pub min_size: usize,
    /// Seeds the LSA projection and the k-means++ picks: the same seed gives the same topics.
    pub seed: u64,
    /// Dimensions kept by LSA.
    pub lsa_dims: usize,
    /// What papers are clustered by.
    #[serde(default)]
    pub representation: Representation,
}

/// What papers are clustered by (compared in BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Representation {
    /// LSA of the TF-IDF of the analyzers' terms (measured best).
    #[default]
    Lsa,
    /// The paper embedding vectors.
    Vectors,
    /// Both, concatenated with equal weight.
    Both,
}

impl Default for TopicParams {
    fn default() -> Self {
        TopicParams {
            topics: None,
            min_size: 10,
            seed: 42,
            lsa_dims: 100,
            representation: Representation::Lsa,
        }
    }
}

/// One topic: its label terms in both languages, its central papers and its centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Topic {
    /// Its rank by size when fitted (0 = largest); `keep_ids` can carry ids over from an earlier
    /// model instead.
    pub id: usize,
    /// Papers whose nearest topic this is, outliers included.
    pub size: usize,
    /// Up to 25 English terms (surface forms, bigrams included), most distinctive first.
    pub label_en: Vec<String>,
    /// Up to 25 Chinese words, most distinctive first.
    pub label_zh: Vec<String>,
    /// The papers closest to the topic's centre.
    pub representative: Vec<String>,
    /// Mean direction of the members' embedding vectors (for assigning new papers).
    #[serde(default)]
    pub centroid: Vec<f32>,
}

/// Which topic one paper belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignment {
    /// The paper.
    pub arxiv_id: String,
    /// The topic id, or -1 for an outlier (a paper far from every topic).
    pub topic: i64,
    /// The nearest topic, also for outliers.
    pub nearest: usize,
    /// Cosine to the topic centre in the clustering space.
    pub closeness: f32,
}

/// A fitted model: what the index saves and the topic commands show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicModel {
    /// The parameters it was fitted with.
    pub params: TopicParams,
    /// Largest first when fitted.
    pub topics: Vec<Topic>,
    /// One per paper, in the order of the papers given to the fit (later additions appended).
    pub assignments: Vec<Assignment>,
    /// Time the fit took.
    pub seconds: f64,
}

/// What the topic listings show (the CLI's `topics --json`, the API's `/api/topics`): every
/// topic without its centroid, and every paper's assignment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopicsView {
    /// The topics, largest first when fitted.
    pub topics: Vec<TopicSummary>,
    /// One per paper.
    pub assignments: Vec<Assignment>,
}

/// One topic as listed: its labels and central papers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopicSummary {
    /// Topic id.
    pub id: usize,
    /// Papers whose nearest topic this is.
    pub size: usize,
    /// English label terms, most distinctive first.
    pub label_en: Vec<String>,
    /// Chinese label words, most distinctive first.
    pub label_zh: Vec<String>,
    /// The papers closest to the topic's centre.
    pub representative: Vec<String>,
}

impl TopicsView {
    /// The listing of `model`.
    pub fn of(model: &TopicModel) -> TopicsView {
        TopicsView {
            topics: model
                .topics
                .iter()
                .map(|t| TopicSummary {
                    id: t.id,
                    size: t.size,
                    label_en: t.label_en.clone(),
                    label_zh: t.label_zh.clone(),
                    representative: t.representative.clone(),
                })
                .collect(),
            assignments: model.assignments.clone(),
        }
    }
}

/// One topic and its papers, closest to its centre first (`topic --json`, `/api/topics/{id}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopicPapers {
    /// The topic.
    pub topic: Topic,
    /// Its papers.
    pub papers: Vec<Paper>,
}
